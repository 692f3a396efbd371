import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './ml/backend';
await initBackend('webgpu');
const dev = (tf.backend() as unknown as { device: GPUDevice }).device;
console.log('limits', dev.limits.maxBufferSize, dev.limits.maxStorageBufferBindingSize, 'handler', (dev as any).onuncapturederror);
const x = tf.fill([300 * 1024 * 1024], 1);
const y = tf.sum(tf.add(x, 1));
const t0 = Date.now();
try {
  const v = await Promise.race([y.data(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 20000))]);
  console.log('data', v, Date.now() - t0);
} catch (e) { console.log('threw', String(e).slice(0, 300)); }
const z = tf.sum(tf.add(tf.ones([1000]), 1));
console.log('after', await z.data());
process.exit(0);
