import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../ml/errors';
import {
  CAFFE_PREPROCESSING,
  centerView,
  computePca,
  type DecodedImage,
  loadImage,
  PAPER_PREPROCESSING,
  parsePreprocessing,
  pcaOffset,
  type Preprocessing,
  randomView,
  symmetricEigen3,
  tenCropViews,
  toInput,
  type View,
} from '../../ml/preprocess';
import { createRng } from '../../ml/rng';
import { engineError } from '../helpers/engine-error';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const datasets = path.resolve(repoRoot, '../shared/datasets');
const ants = path.join(datasets, 'hymenoptera/train/ants');
const FORMICA = path.join(ants, 'formica.jpeg');
const SPACED = path.join(ants, 'ant photos.jpg');

// Identity normalisation: toInput's output is then the raw 0-255 pixel, easy to index directly.
const RAW: Preprocessing = { ...PAPER_PREPROCESSING, mean: [0, 0, 0], std: [1, 1, 1] };
const P = PAPER_PREPROCESSING;
const S = P.crop;
const px = (img: DecodedImage, row: number, col: number): number[] => {
  const i = (row * img.width + col) * 3;
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
};
const out3 = (x: Float32Array, row: number, col: number): number[] => {
  const i = (row * S + col) * 3;
  return [x[i]!, x[i + 1]!, x[i + 2]!];
};

let tmp: string;
let formica: DecodedImage;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'alexnet-prep-'));
  formica = await loadImage(FORMICA, P);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('loadImage on real photos', () => {
  it('loads formica.jpeg (.jpeg) and the progressive "ant photos.jpg" as 256x256 RGB', async () => {
    expect((await sharp(SPACED).metadata()).isProgressive).toBe(true);
    for (const f of [FORMICA, SPACED]) {
      const img = await loadImage(f, P);
      expect(img.path).toBe(f);
      expect([img.width, img.height, img.data.length]).toEqual([256, 256, 256 * 256 * 3]);
      expect(img.data).toBeInstanceOf(Uint8Array);
      const distinct = new Set(img.data);
      expect(distinct.size).toBeGreaterThan(100); // a real photo, not a blank
    }
  });

  it('is the centre square of the shorter-side-256 resize (matches sharp resize + extract)', async () => {
    const meta = await sharp(FORMICA).metadata();
    const w = meta.width!;
    const h = meta.height!;
    const scale = 256 / Math.min(w, h);
    const rw = Math.round(w * scale);
    const rh = Math.round(h * scale);
    const ref = await sharp(FORMICA)
      .resize(rw, rh, { kernel: 'lanczos3' })
      .extract({ left: Math.floor((rw - 256) / 2), top: Math.floor((rh - 256) / 2), width: 256, height: 256 })
      .removeAlpha()
      .raw()
      .toBuffer();
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff += Math.abs(ref[i]! - formica.data[i]!);
    expect(diff / ref.length).toBeLessThan(3); // same geometry up to sharp's sub-pixel rounding
  });

  it('never writes to the photo', async () => {
    const before = statSync(FORMICA);
    const hash = createHash('sha256').update(readFileSync(FORMICA)).digest('hex');
    await loadImage(FORMICA, P);
    const after = statSync(FORMICA);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(createHash('sha256').update(readFileSync(FORMICA)).digest('hex')).toBe(hash);
  });
});

describe('loadImage on made-up files (temp dir)', () => {
  it('a truncated JPEG, a text file and a missing file are BAD_IMAGE with the path, on one line', async () => {
    const bytes = readFileSync(FORMICA);
    const cut = path.join(tmp, 'truncated.jpg');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const txt = path.join(tmp, 'notes.jpg');
    writeFileSync(txt, 'this is not a photo\n');
    for (const f of [cut, txt, path.join(tmp, 'missing.jpg')]) {
      const e = await engineError(loadImage(f, P));
      expect(e.code).toBe('BAD_IMAGE');
      expect(e.message).toContain(f);
      expect(e.message).not.toContain('\n');
      expect(e.message.length).toBeGreaterThan(f.length + 5); // carries a reason
    }
  });

  it('PNG with alpha is flattened on white', async () => {
    // 300x200: left half opaque red, right half fully transparent.
    const w = 300;
    const h = 200;
    const raw = Buffer.alloc(w * h * 4);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        if (x < 150) raw.set([255, 0, 0, 255], i);
        else raw.set([0, 0, 255, 0], i); // blue but invisible
      }
    const f = path.join(tmp, 'alpha.png');
    await sharp(raw, { raw: { width: w, height: h, channels: 4 } }).png().toFile(f);
    expect((await sharp(f).metadata()).hasAlpha).toBe(true);
    const img = await loadImage(f, P);
    expect(img.data.length).toBe(256 * 256 * 3);
    // resized to 384x256, crop columns 64..320; the red/transparent edge is at column 192 -> 128.
    expect(px(img, 128, 20)).toEqual([255, 0, 0]);
    expect(px(img, 128, 240)).toEqual([255, 255, 255]);
  });

  it('greyscale becomes 3 equal channels', async () => {
    const w = 64;
    const h = 80;
    const raw = Buffer.alloc(w * h);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7) % 256;
    const f = path.join(tmp, 'grey.png');
    await sharp(raw, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png().toFile(f);
    expect((await sharp(f).metadata()).channels).toBe(1);
    const img = await loadImage(f, P);
    expect(img.data.length).toBe(256 * 256 * 3);
    let distinct = 0;
    let unequal = 0;
    for (let i = 0; i < img.data.length; i += 3) {
      if (img.data[i] !== img.data[i + 1] || img.data[i] !== img.data[i + 2]) unequal++;
      if (img.data[i] !== img.data[0]) distinct++;
    }
    expect(unequal).toBe(0);
    expect(distinct).toBeGreaterThan(1000);
  });

  it('16-bit RGB and grey+alpha PNGs come out 8-bit RGB (alpha on white)', async () => {
    const f16 = path.join(tmp, 'deep.png');
    await sharp({ create: { width: 60, height: 40, channels: 3, background: { r: 200, g: 100, b: 50 } } }).toColourspace('rgb16').png().toFile(f16);
    expect((await sharp(f16).metadata()).depth).toBe('ushort');
    expect(px(await loadImage(f16, P), 128, 128)).toEqual([200, 100, 50]);
    const fga = path.join(tmp, 'grey-alpha.png');
    await sharp({ create: { width: 60, height: 40, channels: 4, background: { r: 90, g: 90, b: 90, alpha: 0.5 } } }).toColourspace('b-w').png().toFile(fga);
    expect((await sharp(fga).metadata()).channels).toBe(2);
    const ga = px(await loadImage(fga, P), 100, 100);
    expect(ga[0]).toBe(ga[1]);
    expect(ga[0]).toBe(ga[2]);
    expect(Math.abs(ga[0]! - (90 + 255) / 2)).toBeLessThanOrEqual(1.5); // half-transparent grey over white
  });

  it('CMYK JPEG is converted to sRGB (red stays red)', async () => {
    const f = path.join(tmp, 'cmyk.jpg');
    await sharp({ create: { width: 120, height: 90, channels: 3, background: { r: 230, g: 20, b: 20 } } })
      .toColourspace('cmyk')
      .jpeg({ quality: 95 })
      .toFile(f);
    expect((await sharp(f).metadata()).space).toBe('cmyk');
    const img = await loadImage(f, P);
    expect(img.data.length).toBe(256 * 256 * 3);
    const [r, g, b] = px(img, 128, 128);
    expect(r).toBeGreaterThan(180);
    expect(g).toBeLessThan(80);
    expect(b).toBeLessThan(80);
  });

  it('honours EXIF orientation (6 = rotate 90 clockwise to display)', async () => {
    // Stored 200x100 landscape: left half red, right half blue. Displayed (after 90 CW):
    // 100x200 portrait, red on top, blue below.
    const w = 200;
    const h = 100;
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(x < 100 ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
    const f = path.join(tmp, 'exif6.jpg');
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(f);
    expect((await sharp(f).metadata()).orientation).toBe(6);
    const img = await loadImage(f, P);
    expect(img.data.length).toBe(256 * 256 * 3);
    // Rotated: top rows red, bottom rows blue (unrotated it would be left red / right blue).
    const top = px(img, 20, 235);
    const bottom = px(img, 235, 20);
    expect(top[0]).toBeGreaterThan(200);
    expect(top[2]).toBeLessThan(60);
    expect(bottom[2]).toBeGreaterThan(200);
    expect(bottom[0]).toBeLessThan(60);
  });

  it('WebP loads; a GIF gives its first frame', async () => {
    const wf = path.join(tmp, 'x.webp');
    await sharp({ create: { width: 50, height: 70, channels: 3, background: { r: 0, g: 200, b: 0 } } }).webp({ lossless: true }).toFile(wf);
    const wimg = await loadImage(wf, P);
    expect(px(wimg, 100, 100)).toEqual([0, 200, 0]);

    // Two 64x64 frames stacked: red then blue.
    const frame = 64 * 64 * 3;
    const raw = Buffer.alloc(frame * 2);
    for (let i = 0; i < frame; i += 3) {
      raw.set([255, 0, 0], i);
      raw.set([0, 0, 255], frame + i);
    }
    const gf = path.join(tmp, 'anim.gif');
    await sharp(raw, { raw: { width: 64, height: 128, channels: 3, pageHeight: 64 } }).gif().toFile(gf);
    expect((await sharp(gf).metadata()).pages).toBe(2);
    const gimg = await loadImage(gf, P);
    expect(gimg.data.length).toBe(256 * 256 * 3);
    const [r, , b] = px(gimg, 200, 200);
    expect(r).toBeGreaterThan(200);
    expect(b).toBeLessThan(60);
  });
});

describe('views and toInput', () => {
  it('centre and 10-crop geometry', () => {
    expect(centerView(P)).toEqual({ x: 14, y: 14, flip: false });
    const v = tenCropViews(P);
    expect(v).toHaveLength(10);
    const m = 256 - 227;
    const pos = v.slice(0, 5).map((w) => [w.x, w.y]);
    expect(pos).toEqual([
      [14, 14],
      [0, 0],
      [m, 0],
      [0, m],
      [m, m],
    ]);
    expect(v.slice(5).map((w) => [w.x, w.y])).toEqual(pos);
    expect(v.map((w) => w.flip)).toEqual([false, false, false, false, false, true, true, true, true, true]);
  });

  it('every view gives [227, 227, 3] and picks the right pixels, flips included', () => {
    const rng = createRng(1);
    const views: View[] = [centerView(P), ...tenCropViews(P), ...Array.from({ length: 20 }, () => randomView(P, rng))];
    for (const view of views) {
      const x = toInput(formica, RAW, view);
      expect(x.length).toBe(S * S * 3);
      for (const [r, c] of [
        [0, 0],
        [0, S - 1],
        [S - 1, 0],
        [S - 1, S - 1],
        [100, 37],
        [5, 200],
      ] as const) {
        const srcCol = view.x + (view.flip ? S - 1 - c : c);
        expect(out3(x, r, c)).toEqual(px(formica, view.y + r, srcCol));
      }
    }
    // A flipped view is the mirror image of the unflipped one, row by row.
    const [a, , , , , b] = tenCropViews(P).map((w) => toInput(formica, RAW, w));
    for (let r = 0; r < S; r += 50) for (let c = 0; c < S; c += 13) expect(out3(b!, r, c)).toEqual(out3(a!, r, S - 1 - c));
  });

  it('subtracts the per-channel mean exactly (paper RGB and Caffe BGR)', () => {
    const view = centerView(P);
    const x = toInput(formica, P, view);
    const [r, g, b] = px(formica, 14 + 50, 14 + 60);
    expect(out3(x, 50, 60)).toEqual([Math.fround(r! - 123.68), Math.fround(g! - 116.779), Math.fround(b! - 103.939)]);
    const y = toInput(formica, CAFFE_PREPROCESSING, view);
    expect(out3(y, 50, 60)).toEqual([b! - 104, g! - 117, r! - 123]);
    // scale and std: ((p * scale) - mean) / std
    const torchLike: Preprocessing = { ...P, scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    const z = toInput(formica, torchLike, view);
    const want = [(r! / 255 - 0.485) / 0.229, (g! / 255 - 0.456) / 0.224, (b! / 255 - 0.406) / 0.225];
    out3(z, 50, 60).forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 5));
  });

  it('writes into a given buffer slice', () => {
    const batch = new Float32Array(2 * S * S * 3);
    const second = batch.subarray(S * S * 3);
    const r = toInput(formica, P, centerView(P), second);
    expect(r).toBe(second);
    expect(batch.subarray(0, S * S * 3).every((v) => v === 0)).toBe(true);
    expect(Array.from(second.subarray(0, 30))).toEqual(Array.from(toInput(formica, P, centerView(P)).subarray(0, 30)));
  });

  it('random views stay inside the image, use both flips and many positions', () => {
    const rng = createRng(2);
    const xs = new Set<number>();
    let flips = 0;
    for (let i = 0; i < 500; i++) {
      const v = randomView(P, rng);
      expect(v.x).toBeGreaterThanOrEqual(0);
      expect(v.y).toBeGreaterThanOrEqual(0);
      expect(v.x + S).toBeLessThanOrEqual(256);
      expect(v.y + S).toBeLessThanOrEqual(256);
      expect(v.pca).toBeUndefined();
      xs.add(v.x);
      if (v.flip) flips++;
    }
    expect(xs.size).toBe(30); // 0..29 all reached
    expect(flips).toBeGreaterThan(200);
    expect(flips).toBeLessThan(300);
    const fixed = randomView(P, rng, null, { randomCrop: false, flip: false });
    expect(fixed).toEqual(centerView(P));
  });
});

describe('PCA colour augmentation', () => {
  it('symmetricEigen3 recovers a known decomposition', () => {
    // A = Q diag(9, 4, 1) Q^T with Q a rotation.
    const c = Math.cos(0.7);
    const s = Math.sin(0.7);
    const c2 = Math.cos(-0.4);
    const s2 = Math.sin(-0.4);
    const Rz = [
      [c, -s, 0],
      [s, c, 0],
      [0, 0, 1],
    ];
    const Rx = [
      [1, 0, 0],
      [0, c2, -s2],
      [0, s2, c2],
    ];
    const mul = (A: number[][], B: number[][]): number[][] => A.map((row) => B[0]!.map((_, j) => row.reduce((acc, a, k) => acc + a * B[k]![j]!, 0)));
    const Q = mul(Rz, Rx);
    const lam = [9, 4, 1];
    const A = mul(mul(Q, lam.map((l, i) => [0, 1, 2].map((j) => (i === j ? l : 0)))), Q[0]!.map((_, j) => Q.map((row) => row[j]!)));
    const { values, vectors } = symmetricEigen3(A);
    values.forEach((v, i) => expect(v).toBeCloseTo(lam[i]!, 10));
    for (let i = 0; i < 3; i++) {
      const q = [Q[0]![i]!, Q[1]![i]!, Q[2]![i]!];
      const dot = q.reduce((acc, x, k) => acc + x * vectors[i]![k]!, 0);
      expect(Math.abs(dot)).toBeCloseTo(1, 10); // same axis up to sign
    }
    // Already-diagonal input and the classic [[2,1],[1,2]] block.
    const d = symmetricEigen3([
      [2, 1, 0],
      [1, 2, 0],
      [0, 0, 5],
    ]);
    d.values.forEach((v, i) => expect(v).toBeCloseTo([5, 3, 1][i]!, 12));
    expect(d.vectors[1]![0]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(d.vectors[1]![1]).toBeCloseTo(Math.SQRT1_2, 12);
  });

  it('computePca on real photos matches the directly computed covariance', async () => {
    const imgs = [formica, await loadImage(SPACED, P)];
    const pca = computePca(imgs);
    expect(pca.eigenvalues[0]).toBeGreaterThan(pca.eigenvalues[1]);
    expect(pca.eigenvalues[1]).toBeGreaterThan(pca.eigenvalues[2]);
    expect(pca.eigenvalues[2]).toBeGreaterThan(0);
    // Two-pass covariance, then check C p = lambda p for each axis.
    const mean = [0, 0, 0];
    let n = 0;
    for (const im of imgs) for (let i = 0; i < im.data.length; i += 3, n++) for (let k = 0; k < 3; k++) mean[k]! += im.data[i + k]!;
    for (let k = 0; k < 3; k++) mean[k]! /= n;
    const C = [0, 1, 2].map(() => [0, 0, 0]);
    for (const im of imgs)
      for (let i = 0; i < im.data.length; i += 3)
        for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) C[a]![b]! += ((im.data[i + a]! - mean[a]!) * (im.data[i + b]! - mean[b]!)) / n;
    for (let i = 0; i < 3; i++) {
      const p = pca.eigenvectors[i]!;
      expect(Math.hypot(...p)).toBeCloseTo(1, 10);
      for (let a = 0; a < 3; a++) {
        const Cp = C[a]!.reduce((acc, x, k) => acc + x * p[k]!, 0);
        expect(Cp).toBeCloseTo(pca.eigenvalues[i] * p[a]!, 4);
      }
    }
  });

  it('adds sum_i alpha_i sqrt(lambda_i) p_i to every pixel; deterministic under a seed', () => {
    const pca = computePca([formica]);
    const off = pcaOffset(pca, [0.1, 0, 0]);
    off.forEach((o, k) => expect(o).toBeCloseTo(0.1 * Math.sqrt(pca.eigenvalues[0]) * pca.eigenvectors[0]![k]!, 10));

    const v = randomView(P, createRng(7), pca);
    expect(v.pca).toBeDefined();
    const withNoise = toInput(formica, RAW, v);
    const without = toInput(formica, RAW, { ...v, pca: undefined });
    for (let i = 0; i < 3 * 500; i += 3) for (let k = 0; k < 3; k++) expect(withNoise[i + k]! - without[i + k]!).toBeCloseTo(v.pca![k]!, 3);

    const again = toInput(formica, P, randomView(P, createRng(7), pca));
    const same = toInput(formica, P, randomView(P, createRng(7), pca));
    const other = toInput(formica, P, randomView(P, createRng(8), pca));
    expect(Buffer.from(same.buffer).equals(Buffer.from(again.buffer))).toBe(true);
    expect(Buffer.from(other.buffer).equals(Buffer.from(again.buffer))).toBe(false);
    expect(other.length).toBe(again.length);
    // pcaStd 0 switches the colour noise off without changing the crop stream.
    const off0 = randomView(P, createRng(7), pca, { pcaStd: 0 });
    expect(off0.pca).toBeUndefined();
    expect([off0.x, off0.y, off0.flip]).toEqual([v.x, v.y, v.flip]);
  });
});

describe('parsePreprocessing', () => {
  it('round-trips the presets through JSON and rejects bad ones', () => {
    for (const p of [PAPER_PREPROCESSING, CAFFE_PREPROCESSING]) expect(parsePreprocessing(JSON.parse(JSON.stringify(p)))).toEqual(p);
    for (const bad of [null, { ...P, crop: 300 }, { ...P, channelOrder: 'rgb' }, { ...P, mean: [1, 2] }, { ...P, std: [1, 0, 1] }, { ...P, resize: 0 }]) {
      expect(() => parsePreprocessing(bad)).toThrow(EngineError);
    }
  });
});
