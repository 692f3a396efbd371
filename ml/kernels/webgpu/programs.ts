// Our WGSL compute programs for tfjs-backend-webgpu (its WebGPUProgram interface: the backend
// generates the bindings, the shape uniforms `uniforms.<input>Shape` / `uniforms.outShape`, the
// accessors getX(n, h, w, c) etc. and setOutputAtIndex; a program supplies `fn main(index : i32)`).
// One output element per invocation, flat dispatch. Sizes that shape the loops (kernel, channels per
// group, LRN window) are compiled in (each distinct layer gets its own pipeline, cached by shaderKey);
// the rest are uniforms.
//
// Grouped convolution (Caffe `group: g`, NHWC, filter [kh, kw, Cin/g, Cout]: output channel co sees
// input channels [g0 * Cin/g, (g0 + 1) * Cin/g) with g0 = co / (Cout/g)), padding as TensorFlow's
// SAME/VALID (padTop/padLeft given), in one dispatch each for y, dL/dx and dL/dw: the portable path
// splits x and w into halves, convolves each and concatenates (copies of every activation).
//
// The paper's LRN (section 3.3), across channels:
//   y_c = x_c * s_c^-beta,  s_c = k + alpha/n * sum_{|c'-c| <= r} x_c'^2,  r = (n-1)/2
// and its gradient from x and dy alone, in one dispatch (the window is symmetric: j is in c's window
// exactly when c is in j's):
//   dx_j = dy_j s_j^-beta - 2 alpha beta / n * x_j * sum_{|c-j| <= r} dy_c x_c s_c^(-beta-1)

import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { webgpu_util } from '@tensorflow/tfjs-backend-webgpu';

const WORKGROUP: [number, number, number] = [64, 1, 1];

abstract class FlatProgram implements WebGPUProgram {
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize = WORKGROUP;
  size = true;
  abstract variableNames: string[];
  abstract shaderKey: string;
  uniforms?: string;

  constructor(outputShape: number[]) {
    this.outputShape = outputShape;
    this.dispatchLayout = webgpu_util.flatDispatchLayout(outputShape);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, outputShape, this.workgroupSize);
  }
  abstract getUserCode(): string;
}

export type ConvGeometry = { kh: number; kw: number; cinG: number; coutG: number };
const CONV_UNIFORMS = 'stride : i32, padTop : i32, padLeft : i32,';

/** y [N, OH, OW, Cout] from x [N, H, W, Cin] and w [kh, kw, Cin/g, Cout]. */
export class GroupedConvProgram extends FlatProgram {
  variableNames = ['x', 'w'];
  override uniforms = CONV_UNIFORMS;
  shaderKey: string;
  constructor(
    outShape: number[],
    private readonly g: ConvGeometry,
  ) {
    super(outShape);
    this.shaderKey = `alexnet_gconv_${g.kh}_${g.kw}_${g.cinG}_${g.coutG}`;
  }
  getUserCode(): string {
    const { kh, kw, cinG, coutG } = this.g;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let o = getOutputCoords();
          let c0 = (o[3] / ${coutG}) * ${cinG};
          var acc = 0.0;
          for (var i = 0; i < ${kh}; i++) {
            let ih = o[1] * uniforms.stride - uniforms.padTop + i;
            if (ih < 0 || ih >= uniforms.xShape[1]) { continue; }
            for (var j = 0; j < ${kw}; j++) {
              let iw = o[2] * uniforms.stride - uniforms.padLeft + j;
              if (iw < 0 || iw >= uniforms.xShape[2]) { continue; }
              for (var ci = 0; ci < ${cinG}; ci++) {
                acc = acc + getX(o[0], ih, iw, c0 + ci) * getW(i, j, ci, o[3]);
              }
            }
          }
          setOutputAtIndex(index, acc);
        }
      }`;
  }
}

/** dL/dx [N, H, W, Cin] from dy [N, OH, OW, Cout] and w. */
export class GroupedConvBackpropInputProgram extends FlatProgram {
  variableNames = ['dy', 'w'];
  override uniforms = CONV_UNIFORMS;
  shaderKey: string;
  constructor(
    xShape: number[],
    private readonly g: ConvGeometry,
  ) {
    super(xShape);
    this.shaderKey = `alexnet_gconv_dx_${g.kh}_${g.kw}_${g.cinG}_${g.coutG}`;
  }
  getUserCode(): string {
    const { kh, kw, cinG, coutG } = this.g;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let o = getOutputCoords();
          let grp = o[3] / ${cinG};
          let ci = o[3] - grp * ${cinG};
          let co0 = grp * ${coutG};
          var acc = 0.0;
          for (var i = 0; i < ${kh}; i++) {
            let th = o[1] + uniforms.padTop - i;
            if (th < 0 || th % uniforms.stride != 0) { continue; }
            let oh = th / uniforms.stride;
            if (oh >= uniforms.dyShape[1]) { continue; }
            for (var j = 0; j < ${kw}; j++) {
              let tw = o[2] + uniforms.padLeft - j;
              if (tw < 0 || tw % uniforms.stride != 0) { continue; }
              let ow = tw / uniforms.stride;
              if (ow >= uniforms.dyShape[2]) { continue; }
              for (var k = 0; k < ${coutG}; k++) {
                acc = acc + getDy(o[0], oh, ow, co0 + k) * getW(i, j, ci, co0 + k);
              }
            }
          }
          setOutputAtIndex(index, acc);
        }
      }`;
  }
}

/** dL/dw [kh, kw, Cin/g, Cout] from x and dy. */
export class GroupedConvBackpropFilterProgram extends FlatProgram {
  variableNames = ['x', 'dy'];
  override uniforms = CONV_UNIFORMS;
  shaderKey: string;
  constructor(
    wShape: number[],
    private readonly g: ConvGeometry,
  ) {
    super(wShape);
    this.shaderKey = `alexnet_gconv_dw_${g.cinG}_${g.coutG}`;
  }
  getUserCode(): string {
    const { cinG, coutG } = this.g;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let o = getOutputCoords();
          let c = (o[3] / ${coutG}) * ${cinG} + o[2];
          var acc = 0.0;
          for (var n = 0; n < uniforms.dyShape[0]; n++) {
            for (var oh = 0; oh < uniforms.dyShape[1]; oh++) {
              let ih = oh * uniforms.stride - uniforms.padTop + o[0];
              if (ih < 0 || ih >= uniforms.xShape[1]) { continue; }
              for (var ow = 0; ow < uniforms.dyShape[2]; ow++) {
                let iw = ow * uniforms.stride - uniforms.padLeft + o[1];
                if (iw < 0 || iw >= uniforms.xShape[2]) { continue; }
                acc = acc + getX(n, ih, iw, c) * getDy(n, oh, ow, o[3]);
              }
            }
          }
          setOutputAtIndex(index, acc);
        }
      }`;
  }
}

const LRN_UNIFORMS = 'k : f32, alphaN : f32, beta : f32,';

/** s_c = k + alpha/n * window sum of squares around channel c (WGSL, inside main). */
function windowSum(r: number, at: string, name: string): string {
  return `
    var ${name} = 0.0;
    for (var t = max(${at} - ${r}, 0); t <= min(${at} + ${r}, uniforms.xShape[3] - 1); t++) {
      let z = getX(o[0], o[1], o[2], t);
      ${name} = ${name} + z * z;
    }
    ${name} = uniforms.k + uniforms.alphaN * ${name};`;
}

/** The paper's LRN, y from x, one dispatch. */
export class PaperLrnProgram extends FlatProgram {
  variableNames = ['x'];
  override uniforms = LRN_UNIFORMS;
  shaderKey: string;
  constructor(
    xShape: number[],
    private readonly radius: number,
  ) {
    super(xShape);
    this.shaderKey = `alexnet_lrn_${radius}`;
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let o = getOutputCoords();
          ${windowSum(this.radius, 'o[3]', 's')}
          setOutputAtIndex(index, getX(o[0], o[1], o[2], o[3]) * pow(s, -uniforms.beta));
        }
      }`;
  }
}

/** dL/dx of the paper's LRN from x and dy, one dispatch (no stored y or s). */
export class PaperLrnGradProgram extends FlatProgram {
  variableNames = ['x', 'dy'];
  override uniforms = LRN_UNIFORMS;
  shaderKey: string;
  constructor(
    xShape: number[],
    private readonly radius: number,
  ) {
    super(xShape);
    this.shaderKey = `alexnet_lrn_grad_${this.radius}`;
  }
  getUserCode(): string {
    const r = this.radius;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let o = getOutputCoords();
          let j = o[3];
          ${windowSum(r, 'j', 'sj')}
          var cross = 0.0;
          for (var c = max(j - ${r}, 0); c <= min(j + ${r}, uniforms.xShape[3] - 1); c++) {
            ${windowSum(r, 'c', 'sc')}
            cross = cross + getDy(o[0], o[1], o[2], c) * getX(o[0], o[1], o[2], c) * pow(sc, -uniforms.beta - 1.0);
          }
          let xj = getX(o[0], o[1], o[2], j);
          let dx = getDy(o[0], o[1], o[2], j) * pow(sj, -uniforms.beta) - 2.0 * uniforms.alphaN * uniforms.beta * xj * cross;
          setOutputAtIndex(index, dx);
        }
      }`;
  }
}
