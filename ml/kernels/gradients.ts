// Gradients for every TF.js op.
//
// @tensorflow/tfjs-core's Node build (dist/tf-core.node.js, what `import '@tensorflow/tfjs-core'`
// loads in Node) registers NO gradient functions: tf.grad over tf.sum fails with "gradient function
// not found for Sum". Its ESM file that registers them (dist/register_all_gradients.js) cannot be
// imported by Node (extensionless relative imports). The union package @tensorflow/tfjs registers
// all of them, into the registry that every copy of the core code shares (a global), using the one
// @tensorflow/tfjs-core in node_modules. It costs a fraction of a second, once per process
// (bench/README.md ("Engine choices")).
import '@tensorflow/tfjs';
