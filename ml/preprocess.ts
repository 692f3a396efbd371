// Image preprocessing as the 2012 paper did it, plus the views (crops, flips, colour noise) that
// training and test-time augmentation take from each image. Plain TypeScript + sharp: this file
// makes typed arrays; the trainer turns them into tensors.
//
//   file --sharp--> EXIF-rotated, sRGB, no alpha --> shorter side to `resize` --> centre
//   resize x resize crop = DecodedImage (Uint8 RGB, HWC, 196,608 bytes at 256)
//   DecodedImage --toInput(view)--> crop x crop x 3 Float32 (HWC, channelOrder, (p*scale-mean)/std)
//
// The Preprocessing object is saved with every model and every later use of that model repeats it
// exactly, so it is plain JSON and everything it controls lives here.

import sharp from 'sharp';
import { EngineError } from './errors';
import type { Rng } from './rng';

// libvips' operation cache keeps recently opened files open (Windows then locks the user's photos)
// and may serve a file's old pixels after it changed on disk. The loader has its own cache of
// decoded images, so libvips' is switched off for the whole process.
sharp.cache(false);

export type Preprocessing = {
  resize: number; // the shorter side is scaled to this, then the centre resize x resize square is kept (paper: 256)
  crop: number; // the network's input side, cut from the resize x resize image (paper: 227 for this AlexNet)
  channelOrder: 'RGB' | 'BGR'; // order of the 3 channels in the network input (Caffe models: BGR)
  scale: number; // pixel values 0-255 are multiplied by this before mean subtraction (1 = keep 0-255)
  mean: [number, number, number]; // per-channel mean, in channelOrder, in scaled units, subtracted
  std: [number, number, number]; // per-channel divisor, in channelOrder, in scaled units (1 = none)
};

/** The paper's preprocessing: RGB in 0-255, the ImageNet per-channel mean subtracted, no std. */
export const PAPER_PREPROCESSING: Preprocessing = Object.freeze({
  resize: 256, // paper: "rescaled the image such that the shorter side was of length 256"
  crop: 227, // 227 (not the paper's typo'd 224) makes conv1's 11x11/4 arithmetic come out at 55
  channelOrder: 'RGB', // we decode RGB and keep it
  scale: 1, // keep the 0-255 range, as the paper
  mean: [123.68, 116.779, 103.939], // ImageNet training-set mean of R, G, B
  std: [1, 1, 1], // the paper only subtracts the mean
}) as Preprocessing;

/** For BVLC's Caffe reference weights: BGR, 0-255, Caffe's per-channel mean (B 104, G 117, R 123). */
export const CAFFE_PREPROCESSING: Preprocessing = Object.freeze({
  resize: 256, // Caffe's ImageNet pipeline works from 256-pixel images too
  crop: 227, // bvlc_alexnet's input
  channelOrder: 'BGR', // Caffe (OpenCV) order
  scale: 1, // Caffe's reference model takes 0-255
  mean: [104, 117, 123], // B, G, R: Caffe's ilsvrc_2012_mean averaged per channel
  std: [1, 1, 1], // no division
}) as Preprocessing;

/** Checks a Preprocessing read back from disk (or built by hand); EngineError 'BAD_CONFIG' if wrong. */
export function parsePreprocessing(v: unknown): Preprocessing {
  const bad = (why: string): never => {
    throw new EngineError('BAD_CONFIG', `bad preprocessing: ${why}`);
  };
  if (typeof v !== 'object' || v === null) return bad('not an object');
  const o = v as Record<string, unknown>;
  const posInt = (k: string): number => {
    const x = o[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x <= 0) return bad(`${k} must be a positive integer`);
    return x;
  };
  const triple = (k: string, positive: boolean): [number, number, number] => {
    const x = o[k];
    if (!Array.isArray(x) || x.length !== 3 || !x.every((e) => typeof e === 'number' && Number.isFinite(e) && (!positive || e > 0)))
      return bad(`${k} must be 3 ${positive ? 'positive ' : ''}numbers`);
    return [x[0] as number, x[1] as number, x[2] as number];
  };
  const resize = posInt('resize');
  const crop = posInt('crop');
  if (crop > resize) bad(`crop ${crop} is larger than resize ${resize}`);
  const channelOrder = o.channelOrder;
  if (channelOrder !== 'RGB' && channelOrder !== 'BGR') return bad(`channelOrder must be 'RGB' or 'BGR'`);
  const scale = o.scale;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) return bad('scale must be a positive number');
  return { resize, crop, channelOrder, scale, mean: triple('mean', false), std: triple('std', true) };
}

// ---------------------------------------------------------------------------------------------
// Decoding

export type DecodedImage = {
  path: string; // the file it came from (for error messages and reports)
  width: number; // = prep.resize
  height: number; // = prep.resize
  data: Uint8Array; // [height, width, 3] RGB, row-major (HWC)
};

/** One line: no stack, no newlines (libvips reasons often end with "\n"). */
function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * Decodes `path` with the paper's preprocessing: EXIF orientation applied, CMYK/grey/16-bit
 * converted to 8-bit sRGB, alpha flattened on white, animated formats' first frame, shorter side
 * scaled to prep.resize (Lanczos-3), centre prep.resize square kept. Reads the file only.
 * Throws EngineError 'BAD_IMAGE' ("<path>: <reason>") for anything it cannot decode.
 */
export async function loadImage(path: string, prep: Preprocessing): Promise<DecodedImage> {
  const size = prep.resize;
  try {
    // sharp reads the file itself: reading + decoding + resizing is then ONE job on libuv's thread
    // pool, which runs to the end even while the JS thread is blocked by a training step.
    const { data, info } = await sharp(path, {
      failOn: 'truncated', // a truncated file is an error; other libjpeg warnings (common in real photos) are not
      pages: 1, // GIF / animated WebP: the first frame only
      limitInputPixels: 268_402_689, // sharp's default (16383^2): refuses decompression bombs
    })
      .rotate() // honour EXIF orientation (phone photos), before any geometry
      .flatten({ background: { r: 255, g: 255, b: 255 } }) // alpha -> composited on white
      .toColourspace('srgb') // CMYK, grey, Lab, 16-bit -> 8-bit sRGB
      .resize(size, size, { fit: 'cover', position: 'centre', kernel: 'lanczos3' }) // shorter side -> size, centre crop
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.width !== size || info.height !== size) throw new Error(`decoded to ${info.width}x${info.height}, expected ${size}x${size}`);
    let rgb: Uint8Array;
    if (info.channels === 3) rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else if (info.channels === 1) rgb = greyToRgb(data);
    else throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { path, width: size, height: size, data: rgb };
  } catch (e) {
    throw new EngineError('BAD_IMAGE', `${path}: not a readable image: ${oneLine((e as Error).message)}`);
  }
}

function greyToRgb(g: Uint8Array): Uint8Array {
  const out = new Uint8Array(g.length * 3);
  for (let i = 0; i < g.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = g[i] as number;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Views: which crop x crop window of the resize x resize image, flipped or not, with what colour
// offset. A view is plain data so the loader can draw all of an epoch's randomness up front.

export type View = {
  x: number; // left column of the crop in the resize x resize image, 0..resize-crop
  y: number; // top row of the crop, 0..resize-crop
  flip: boolean; // mirror the crop left-right
  pca?: [number, number, number]; // R, G, B offset added to every pixel, in 0-255 units (PCA colour noise)
};

/** The centre crop (test time, single view). Offsets round down, as Caffe's: 14 for 256 -> 227. */
export function centerView(prep: Preprocessing): View {
  const o = Math.floor((prep.resize - prep.crop) / 2);
  return { x: o, y: o, flip: false };
}

/**
 * The paper's 10 test views: centre, top-left, top-right, bottom-left, bottom-right, then the same
 * five mirrored. Averaging the network's softmax over these is the paper's test-time prediction.
 */
export function tenCropViews(prep: Preprocessing): View[] {
  const m = prep.resize - prep.crop; // largest offset
  const c = Math.floor(m / 2);
  const five: [number, number][] = [
    [c, c], // centre
    [0, 0], // top-left
    [m, 0], // top-right
    [0, m], // bottom-left
    [m, m], // bottom-right
  ];
  return [...five.map(([x, y]) => ({ x, y, flip: false })), ...five.map(([x, y]) => ({ x, y, flip: true }))];
}

export type Pca = {
  eigenvalues: [number, number, number]; // variances along the principal axes, 0-255 units squared, descending
  eigenvectors: number[][]; // eigenvectors[i] = the i-th principal axis as an (R, G, B) unit vector
};

export type RandomViewOptions = {
  randomCrop?: boolean; // random crop position (default true); false = the centre crop
  flip?: boolean; // mirror with probability 1/2 (default true)
  pcaStd?: number; // std of the PCA noise's alpha_i (paper: 0.1, the default); 0 = no colour noise
};

/**
 * A training view: a uniformly random crop position, a coin-flip mirror, and (given `pca`) the
 * paper's colour noise: offset = sum_i alpha_i * sqrt(lambda_i) * p_i, alpha_i ~ N(0, pcaStd).
 *
 * Note on sqrt(lambda_i): the paper writes alpha_i * lambda_i, leaving the pixel units open. With
 * 0-255 pixels, lambda_1 is ~12,000 on hymenoptera's photos, so alpha * lambda would shift colours
 * by ~1,000 levels; scaling by the standard deviation sqrt(lambda_i) (as fb.resnet.torch's and
 * torchvision's "Lighting" do) is unit-consistent and gives the intended few-level shifts.
 */
export function randomView(prep: Preprocessing, rng: Rng, pca?: Pca | null, opts: RandomViewOptions = {}): View {
  const randomCrop = opts.randomCrop ?? true;
  const flipOk = opts.flip ?? true;
  const pcaStd = opts.pcaStd ?? 0.1;
  const m = prep.resize - prep.crop;
  const c = centerView(prep);
  // Always draw the same numbers in the same order, whatever the options, so switching one
  // augmentation off doesn't change the others' randomness.
  const x = rng.int(m + 1);
  const y = rng.int(m + 1);
  const flip = rng.next() < 0.5;
  const a = [rng.normal(), rng.normal(), rng.normal()];
  const view: View = randomCrop ? { x, y, flip: flipOk && flip } : { x: c.x, y: c.y, flip: flipOk && flip };
  if (pca && pcaStd > 0) view.pca = pcaOffset(pca, [a[0]! * pcaStd, a[1]! * pcaStd, a[2]! * pcaStd]);
  return view;
}

/** sum_i alpha_i * sqrt(lambda_i) * p_i, an (R, G, B) offset in 0-255 units. */
export function pcaOffset(pca: Pca, alpha: [number, number, number]): [number, number, number] {
  const out: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    const s = alpha[i]! * Math.sqrt(Math.max(0, pca.eigenvalues[i]!));
    const p = pca.eigenvectors[i]!;
    for (let c = 0; c < 3; c++) out[c] += s * p[c]!;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// From a decoded image and a view to the network's input.

/**
 * The network input for one view: Float32Array [crop, crop, 3] (HWC), channels in
 * prep.channelOrder, each value ((pixel + pca_offset) * scale - mean) / std.
 * If `out` is given (e.g. a slice of a batch buffer) the values are written there.
 */
export function toInput(img: DecodedImage, prep: Preprocessing, view: View, out?: Float32Array): Float32Array {
  const S = prep.crop;
  const W = img.width;
  if (view.x < 0 || view.y < 0 || view.x + S > W || view.y + S > img.height)
    throw new RangeError(`view (${view.x}, ${view.y}) size ${S} is outside the ${W}x${img.height} image`);
  const dst = out ?? new Float32Array(S * S * 3);
  if (dst.length < S * S * 3) throw new RangeError(`output buffer holds ${dst.length} values, needs ${S * S * 3}`);
  // Per output channel k: which RGB channel it reads, and the affine map v -> v*a + b folded from
  // (v + pca) * scale - mean) / std.
  const bgr = prep.channelOrder === 'BGR';
  const src = bgr ? [2, 1, 0] : [0, 1, 2];
  const pca = view.pca ?? [0, 0, 0];
  const a = new Float64Array(3);
  const b = new Float64Array(3);
  for (let k = 0; k < 3; k++) {
    const ch = src[k]!;
    a[k] = prep.scale / prep.std[k]!;
    b[k] = (pca[ch]! * prep.scale - prep.mean[k]!) / prep.std[k]!;
  }
  const a0 = a[0]!, a1 = a[1]!, a2 = a[2]!, b0 = b[0]!, b1 = b[1]!, b2 = b[2]!;
  const s0 = src[0]!, s1 = src[1]!, s2 = src[2]!;
  const data = img.data;
  // Walk the source row forwards (step +3) or, flipped, backwards from the crop's right edge.
  const step = view.flip ? -3 : 3;
  const startCol = view.flip ? view.x + S - 1 : view.x;
  let o = 0;
  for (let r = 0; r < S; r++) {
    let p = ((view.y + r) * W + startCol) * 3;
    const end = o + S * 3;
    while (o < end) {
      dst[o] = data[p + s0]! * a0 + b0;
      dst[o + 1] = data[p + s1]! * a1 + b1;
      dst[o + 2] = data[p + s2]! * a2 + b2;
      o += 3;
      p += step;
    }
  }
  return dst;
}

// ---------------------------------------------------------------------------------------------
// PCA of the training set's RGB values (for the colour augmentation).

/**
 * Eigen-decomposition of the 3x3 covariance of all RGB pixel values (0-255) of `images`.
 * Eigenvalues descending, eigenvectors[i] the unit vector for eigenvalues[i] (sign: largest
 * component positive, so the result is unique).
 */
export function computePca(images: DecodedImage[]): Pca {
  if (images.length === 0) throw new EngineError('NO_IMAGES', 'computePca needs at least one image');
  // One pass: sums and sums of products, in float64 (exact for these integer sums up to 2^53).
  let n = 0;
  let sr = 0, sg = 0, sb = 0, srr = 0, sgg = 0, sbb = 0, srg = 0, srb = 0, sgb = 0;
  for (const img of images) {
    const d = img.data;
    for (let i = 0; i < d.length; i += 3) {
      const r = d[i]!, g = d[i + 1]!, b = d[i + 2]!;
      sr += r; sg += g; sb += b;
      srr += r * r; sgg += g * g; sbb += b * b;
      srg += r * g; srb += r * b; sgb += g * b;
    }
    n += d.length / 3;
  }
  const mr = sr / n, mg = sg / n, mb = sb / n;
  const cov = [
    [srr / n - mr * mr, srg / n - mr * mg, srb / n - mr * mb],
    [srg / n - mr * mg, sgg / n - mg * mg, sgb / n - mg * mb],
    [srb / n - mr * mb, sgb / n - mg * mb, sbb / n - mb * mb],
  ];
  const { values, vectors } = symmetricEigen3(cov);
  return { eigenvalues: [values[0]!, values[1]!, values[2]!], eigenvectors: vectors };
}

/**
 * Eigenvalues and eigenvectors of a symmetric 3x3 matrix by cyclic Jacobi rotations.
 * Returns values descending and vectors[i] (unit length, largest |component| positive) such that
 * m * vectors[i] = values[i] * vectors[i].
 */
export function symmetricEigen3(m: number[][]): { values: number[]; vectors: number[][] } {
  const a = m.map((row) => row.slice()); // working copy, driven to diagonal
  const v = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ]; // accumulated rotations; columns become eigenvectors
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[0]![1]! ** 2 + a[0]![2]! ** 2 + a[1]![2]! ** 2;
    const scale = a[0]![0]! ** 2 + a[1]![1]! ** 2 + a[2]![2]! ** 2 + off;
    if (off <= 1e-30 * scale || off === 0) break;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const) {
      const apq = a[p]![q]!;
      if (apq === 0) continue;
      // Rotation angle that zeroes a[p][q] (Numerical Recipes' stable form).
      const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      // a <- J^T a J, J the rotation in the (p, q) plane.
      for (let k = 0; k < 3; k++) {
        const akp = a[k]![p]!, akq = a[k]![q]!;
        a[k]![p] = c * akp - s * akq;
        a[k]![q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = a[p]![k]!, aqk = a[q]![k]!;
        a[p]![k] = c * apk - s * aqk;
        a[q]![k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = v[k]![p]!, vkq = v[k]![q]!;
        v[k]![p] = c * vkp - s * vkq;
        v[k]![q] = s * vkp + c * vkq;
      }
    }
  }
  const order = [0, 1, 2].sort((i, j) => a[j]![j]! - a[i]![i]!);
  const values = order.map((i) => a[i]![i]!);
  const vectors = order.map((i) => {
    const col = [v[0]![i]!, v[1]![i]!, v[2]![i]!];
    const big = col.reduce((best, x) => (Math.abs(x) > Math.abs(best) ? x : best), 0);
    return big < 0 ? col.map((x) => -x) : col;
  });
  return { values, vectors };
}
