// Tiled WGSL programs for the grouped convolution and its two gradients (the naive ones, one output
// element per invocation, are in programs.ts). Each is an implicit-im2col matrix product, with the
// group as a batch dimension: per group g, C_g[rows, cols] = A_g[rows, red] . B_g[red, cols], where
// A and B are read straight from the tensors (no im2col buffer) and zero outside the image (padding)
// and outside the matrices (edge tiles):
//
//   forward   rows = N*OH*OW output pixels, red = kh*kw*Cin/g (i, j, ci), cols = Cout/g;
//             A = x at (oh*s - padTop + i, ow*s - padLeft + j), B = w; epilogue + bias, ReLU or none
//   dL/dx     rows = N*H*W input pixels, red = kh*kw*Cout/g (i, j, co), cols = Cin/g;
//             A = dy at (ih + padTop - i, iw + padLeft - j), B = w; stride 1 only: at stride s
//             all but 1/s^2 of A would be zeros (a tap lands only where it divides), and the
//             naive program, which visits only the taps that land, does less work (register.ts)
//   dL/dw     rows = kh*kw*Cin/g (i, j, ci), red = N*OH*OW, cols = Cout/g; A = x, B = dy. The
//             reduction is long and the output small (conv1: 363 x 96), so it is split into
//             slices, one per workgroup, summed by a second program (WGSL has no float
//             atomics); one slice writes the result directly.
//
// Layout of one workgroup (256 invocations, the most every WebGPU device must allow): a tile of
// TM x TN results, 4 x 4 per invocation, and a reduction step of TK = 16 through workgroup memory:
// each step every invocation stores TM/16 elements of A's tile and TN/16 of B's, then reads a
// column of 4 from A and a row of 4 from B TK times (every value read from global memory once per
// tile instead of once per output). TN = 64 (TM = 64) where the columns are a multiple of 64
// (AlexNet's 128, 192, 384), else TN = 32 (TM = 128: conv1's 96, conv2's 48 inputs per group,
// small test layers), so that fewer columns are computed for nothing. An invocation's 4 columns are
// WX apart (WX = TN/4 invocations side by side), so neighbouring invocations read neighbouring
// words of B's tile (no bank conflicts) and write neighbouring channels of the output (coalesced).
//
// Tiles are loaded in loops (one row or column decode per element), not unrolled per element:
// SwiftShader, the driver the tests run on, compiles the unrolled form far too slowly for a test.
//
// Sizes that shape the loops (kernel, channels per group, groups, stride, padding, tile) are
// compiled in; one pipeline per distinct layer, cached by shaderKey. Image sizes and the batch are
// uniforms. Workgroups are numbered along x then y (one dimension stops at 65535 workgroups:
// conv1's forward needs 9075 at batch 128, 72600 at batch 1024); the index runs column tile fastest, then group,
// then slice, then row tile, so the spare workgroups of the last row of the dispatch fall beyond
// the last row tile and write nothing.

import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import type { ConvGeometry } from './programs';

const TK = 16;
const THREADS = 256;
const MAX_DISPATCH = 65535; // WebGPU's guaranteed maxComputeWorkgroupsPerDimension

/** The geometry compiled into a tiled program: the layer's sizes plus groups, stride and padding. */
export type TiledGeometry = ConvGeometry & { groups: number; stride: number; padTop: number; padLeft: number };
export type Epilogue = 'linear' | 'bias' | 'bias-relu';

type Tile = { tm: number; tn: number; wx: number; wy: number };

function tileFor(cols: number): Tile {
  const tn = cols % 64 === 0 ? 64 : 32;
  const tm = (THREADS * 16) / tn; // 4 x 4 results per invocation
  return { tm, tn, wx: tn / 4, wy: tm / 4 };
}

const cdiv = (a: number, b: number): number => Math.ceil(a / b);

function dispatchFor(workgroups: number): [number, number, number] {
  const x = Math.min(workgroups, MAX_DISPATCH);
  return [x, cdiv(workgroups, x), 1];
}

/** The parts of the WGSL that differ between the three products (each inside main). */
type Parts = {
  setup: string; // before the reduction loop: the sizes the loads need
  loadA: string; // stores A[row0 + ar + 16 e][r0 + kk] into tileA, e < TM/16
  loadB: string; // stores B[r0 + bk + (256/TN) e][col0 + bc] into tileB, e < TN/16
  store: (v: string, row: string, col: string) => string; // writes one result (row < rows, col < cols)
  tiles: string; // reduction steps this workgroup runs (WGSL expression, uniform)
  tileBase: string; // index of its first reduction step
};

abstract class TiledProgram implements WebGPUProgram {
  outputShape: number[];
  dispatchLayout: { x: number[]; y: number[]; z: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  abstract variableNames: string[];
  abstract shaderKey: string;
  uniforms?: string;
  protected readonly tile: Tile;
  protected readonly colTiles: number;

  constructor(
    outputShape: number[],
    protected readonly geo: TiledGeometry,
    rows: number,
    protected readonly cols: number,
    slices: number,
  ) {
    this.outputShape = outputShape;
    // Any non-flat layout: main() reads workgroup and local ids itself (tfjs's getOutputCoords unused).
    this.dispatchLayout = outputShape.length === 4 ? { x: [3], y: [1, 2], z: [0] } : { x: [2], y: [1], z: [0] };
    this.tile = tileFor(cols);
    this.workgroupSize = [this.tile.wx, this.tile.wy, 1];
    this.colTiles = cdiv(cols, this.tile.tn);
    this.dispatch = dispatchFor(cdiv(rows, this.tile.tm) * this.colTiles * geo.groups * slices);
  }

  protected key(kind: string): string {
    const g = this.geo;
    return `alexnet_tiled_${kind}_${g.kh}_${g.kw}_${g.cinG}_${g.coutG}_${g.groups}_${g.stride}_${g.padTop}_${g.padLeft}_${this.tile.tn}`;
  }

  protected abstract parts(): Parts;
  protected sliceDecode(): string {
    return '';
  }

  getUserCode(): string {
    const { tm, tn, wx, wy } = this.tile;
    const p = this.parts();
    const rowsPer = 4;
    const acc: string[] = [];
    const fma: string[] = [];
    const out: string[] = [];
    for (let r = 0; r < rowsPer; r++) {
      for (let c = 0; c < 4; c++) {
        acc.push(`var acc${r}${c} = 0.0;`);
        fma.push(`acc${r}${c} = fma(a${r}, b${c}, acc${r}${c});`);
        out.push(`{
          let row = row0 + ty + ${wy * r};
          let col = col0 + tx + ${wx * c};
          if (row < uniforms.rows && col < ${this.cols}) { ${p.store(`acc${r}${c}`, 'row', 'col')} }
        }`);
      }
    }
    const readB = [0, 1, 2, 3].map((c) => `let b${c} = tileB[i][tx + ${wx * c}];`).join('\n');
    const readA = [0, 1, 2, 3].map((r) => `let a${r} = tileA[ty + ${wy * r}][i];`).join('\n');
    return `
      var<workgroup> tileA : array<array<f32, ${TK}>, ${tm}>;
      var<workgroup> tileB : array<array<f32, ${tn}>, ${TK}>;

      fn main() {
        let tid = i32(localIndex);
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        var wg = i32(workgroupId.y) * i32(numWorkgroups.x) + i32(workgroupId.x);
        let colTile = wg % ${this.colTiles};
        wg = wg / ${this.colTiles};
        let grp = wg % ${this.geo.groups};
        wg = wg / ${this.geo.groups};
        ${this.sliceDecode()}
        let row0 = wg * ${tm};
        let col0 = colTile * ${tn};
        let kk = tid % ${TK};
        let ar = tid / ${TK};
        let bc = tid % ${tn};
        let bk = tid / ${tn};
        ${p.setup}
        ${acc.join('\n')}
        for (var t = 0; t < ${p.tiles}; t++) {
          let r0 = (${p.tileBase} + t) * ${TK};
          ${p.loadA}
          ${p.loadB}
          workgroupBarrier();
          for (var i = 0; i < ${TK}; i++) {
            ${readB}
            ${readA}
            ${fma.join('\n')}
          }
          workgroupBarrier();
        }
        ${out.join('\n')}
      }`;
  }

  protected get aLoads(): number {
    return this.tile.tm / (THREADS / TK);
  }
  protected get bLoads(): number {
    return (TK * this.tile.tn) / THREADS;
  }
  protected get bStep(): number {
    return THREADS / this.tile.tn;
  }
}

/**
 * y [N, OH, OW, Cout] from x [N, H, W, Cin], w [kh, kw, Cin/g, Cout] (and bias [Cout]), with the
 * epilogue: nothing, + bias, or + bias then ReLU.
 */
export class TiledConvProgram extends TiledProgram {
  variableNames: string[];
  override uniforms = 'rows : i32,';
  shaderKey: string;
  constructor(
    outShape: number[],
    geo: TiledGeometry,
    private readonly epilogue: Epilogue,
  ) {
    super(outShape, geo, outShape[0] * outShape[1] * outShape[2], geo.coutG, 1);
    this.variableNames = epilogue === 'linear' ? ['x', 'w'] : ['x', 'w', 'bias'];
    this.shaderKey = `${this.key('conv')}_${epilogue}`;
  }
  protected parts(): Parts {
    const { kh, kw, cinG, coutG, groups, stride, padTop, padLeft } = this.geo;
    const red = kh * kw * cinG;
    const cin = cinG * groups;
    const cout = coutG * groups;
    const value = (v: string, col: string): string =>
      this.epilogue === 'linear' ? v : this.epilogue === 'bias' ? `${v} + bias[grp * ${coutG} + ${col}]` : `max(${v} + bias[grp * ${coutG} + ${col}], 0.0)`;
    return {
      setup: `
        let H = uniforms.xShape[1];
        let W = uniforms.xShape[2];
        let OW = uniforms.outShape[2];
        let OHW = uniforms.outShape[1] * OW;`,
      loadA: `{
          let k = r0 + kk;
          let i = k / ${kw * cinG};
          let j = (k % ${kw * cinG}) / ${cinG};
          let ci = grp * ${cinG} + k % ${cinG};
          let kIn = k < ${red};
          for (var e = 0; e < ${this.aLoads}; e++) {
            let m = row0 + ar + 16 * e;
            let ih = ((m % OHW) / OW) * ${stride} - ${padTop} + i;
            let iw = (m % OW) * ${stride} - ${padLeft} + j;
            var v = 0.0;
            if (m < uniforms.rows && kIn && ih >= 0 && ih < H && iw >= 0 && iw < W) { v = x[(((m / OHW) * H + ih) * W + iw) * ${cin} + ci]; }
            tileA[ar + 16 * e][kk] = v;
          }
        }`,
      loadB: `for (var e = 0; e < ${this.bLoads}; e++) {
          let k = r0 + bk + ${this.bStep} * e;
          let c = col0 + bc;
          var v = 0.0;
          if (k < ${red} && c < ${coutG}) { v = w[k * ${cout} + grp * ${coutG} + c]; }
          tileB[bk + ${this.bStep} * e][bc] = v;
        }`,
      store: (v, row, col) => `result[${row} * ${cout} + grp * ${coutG} + ${col}] = ${value(v, col)};`,
      tiles: String(cdiv(red, TK)),
      tileBase: '0',
    };
  }
}

/** dL/dx [N, H, W, Cin] from dy [N, OH, OW, Cout] and w [kh, kw, Cin/g, Cout], stride 1. */
export class TiledConvBackpropInputProgram extends TiledProgram {
  variableNames = ['dy', 'w'];
  override uniforms = 'rows : i32,';
  shaderKey: string;
  constructor(xShape: number[], geo: TiledGeometry) {
    if (geo.stride !== 1) throw new Error(`tiled dL/dx: stride ${geo.stride}, only stride 1 is tiled`);
    super(xShape, geo, xShape[0] * xShape[1] * xShape[2], geo.cinG, 1);
    this.shaderKey = this.key('dx');
  }
  protected parts(): Parts {
    const { kh, kw, cinG, coutG, groups, padTop, padLeft } = this.geo;
    const red = kh * kw * coutG;
    const cin = cinG * groups;
    const cout = coutG * groups;
    return {
      setup: `
        let W = uniforms.outShape[2];
        let HW = uniforms.outShape[1] * W;
        let OH = uniforms.dyShape[1];
        let OW = uniforms.dyShape[2];`,
      loadA: `{
          let k = r0 + kk;
          let i = k / ${kw * coutG};
          let j = (k % ${kw * coutG}) / ${coutG};
          let co = grp * ${coutG} + k % ${coutG};
          let kIn = k < ${red};
          for (var e = 0; e < ${this.aLoads}; e++) {
            let m = row0 + ar + 16 * e;
            let th = (m % HW) / W + ${padTop} - i;
            let tw = m % W + ${padLeft} - j;
            var v = 0.0;
            if (m < uniforms.rows && kIn && th >= 0 && th < OH && tw >= 0 && tw < OW) {
              v = dy[(((m / HW) * OH + th) * OW + tw) * ${cout} + co];
            }
            tileA[ar + 16 * e][kk] = v;
          }
        }`,
      loadB: `for (var e = 0; e < ${this.bLoads}; e++) {
          let k = r0 + bk + ${this.bStep} * e;
          let c = col0 + bc;
          var v = 0.0;
          if (k < ${red} && c < ${cinG}) {
            let ij = k / ${coutG};
            v = w[(ij * ${cinG} + c) * ${cout} + grp * ${coutG} + k % ${coutG}];
          }
          tileB[bk + ${this.bStep} * e][bc] = v;
        }`,
      store: (v, row, col) => `result[${row} * ${cin} + grp * ${cinG} + ${col}] = ${v};`,
      tiles: String(cdiv(red, TK)),
      tileBase: '0',
    };
  }
}

/**
 * dL/dw: [slices, kh*kw*Cin/g, Cout] partial sums from x [N, H, W, Cin] and dy [N, OH, OW, Cout],
 * each slice reducing `tilesPerSlice` steps of TK output pixels (the sum over slices is dL/dw, in
 * w's layout [kh, kw, Cin/g, Cout]: with one slice this is already it, given that shape).
 */
export class TiledConvBackpropFilterProgram extends TiledProgram {
  variableNames = ['x', 'dy'];
  override uniforms = 'rows : i32, red : i32, tilesPerSlice : i32, slices : i32,';
  shaderKey: string;
  constructor(outShape: number[], geo: TiledGeometry, slices: number) {
    super(outShape, geo, geo.kh * geo.kw * geo.cinG, geo.coutG, slices);
    this.shaderKey = this.key('dw'); // the slicing is uniform: one pipeline for every batch size
  }
  protected override sliceDecode(): string {
    return `let slice = wg % uniforms.slices;
        wg = wg / uniforms.slices;`;
  }
  protected parts(): Parts {
    const { kw, cinG, coutG, groups, stride, padTop, padLeft } = this.geo;
    const cin = cinG * groups;
    const cout = coutG * groups;
    const rows = this.geo.kh * kw * cinG;
    return {
      setup: `
        let H = uniforms.xShape[1];
        let W = uniforms.xShape[2];
        let OW = uniforms.dyShape[2];
        let OHW = uniforms.dyShape[1] * OW;`,
      loadA: `{
          let r = r0 + kk;
          let n = r / OHW;
          let oh = (r % OHW) / OW;
          let ow = r % OW;
          let rIn = r < uniforms.red;
          for (var e = 0; e < ${this.aLoads}; e++) {
            let q = row0 + ar + 16 * e;
            let ih = oh * ${stride} - ${padTop} + q / ${kw * cinG};
            let iw = ow * ${stride} - ${padLeft} + (q % ${kw * cinG}) / ${cinG};
            var v = 0.0;
            if (q < ${rows} && rIn && ih >= 0 && ih < H && iw >= 0 && iw < W) {
              v = x[((n * H + ih) * W + iw) * ${cin} + grp * ${cinG} + q % ${cinG}];
            }
            tileA[ar + 16 * e][kk] = v;
          }
        }`,
      loadB: `for (var e = 0; e < ${this.bLoads}; e++) {
          let r = r0 + bk + ${this.bStep} * e;
          let c = col0 + bc;
          var v = 0.0;
          if (r < uniforms.red && c < ${coutG}) { v = dy[r * ${cout} + grp * ${coutG} + c]; }
          tileB[bk + ${this.bStep} * e][bc] = v;
        }`,
      store: (v, row, col) => `result[(slice * ${rows} + ${row}) * ${cout} + grp * ${coutG} + ${col}] = ${v};`,
      tiles: 'uniforms.tilesPerSlice',
      tileBase: 'slice * uniforms.tilesPerSlice',
    };
  }
}

/** out [shape of one slice] = the sum of `slices` slices of p [slices, ...] (dL/dw's partial sums). */
export class SumSlicesProgram implements WebGPUProgram {
  variableNames = ['p'];
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  shaderKey: string;
  constructor(
    outShape: number[],
    private readonly slices: number,
  ) {
    this.outputShape = outShape;
    this.dispatchLayout = { x: outShape.map((_, i) => i) };
    const n = outShape.reduce((a, b) => a * b, 1);
    this.dispatch = dispatchFor(cdiv(n, 64));
    this.shaderKey = `alexnet_sum_slices_${slices}`;
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var s = 0.0;
          for (var k = 0; k < ${this.slices}; k++) { s = s + p[k * uniforms.size + index]; }
          setOutputAtIndex(index, s);
        }
      }`;
  }
}

/**
 * How many slices dL/dw's reduction over `red` output pixels is cut into: enough for about 1024
 * workgroups in all (a large GPU keeps a few per compute unit busy), none shorter than 64 steps of
 * TK, so that the partial sums stay a small multiple of the filter.
 */
export function filterSlices(geo: TiledGeometry, red: number): { slices: number; tilesPerSlice: number } {
  const t = tileFor(geo.coutG);
  const base = cdiv(geo.kh * geo.kw * geo.cinG, t.tm) * cdiv(geo.coutG, t.tn) * geo.groups;
  const steps = cdiv(red, TK);
  const want = Math.max(1, Math.min(cdiv(1024, base), Math.floor(steps / 64)));
  const tilesPerSlice = cdiv(steps, want);
  return { slices: cdiv(steps, tilesPerSlice), tilesPerSlice };
}
