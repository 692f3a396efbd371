import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CONFIG,
  PARAM_NAMES,
  TINY_CONFIG,
  layerShapes,
  makeConfig,
  paramCount,
  paramShapes,
  pool5Shape,
  validateConfig,
  type AlexNetConfig,
} from '../../ml/config';
import { EngineError } from '../../ml/errors';

// Independent per-layer count, written from the paper's Figure 2 rather than from paramShapes.
function countByHand(c: AlexNetConfig, pool5: number): number {
  const [c1, c2, c3, c4, c5] = c.channels;
  const g = c.groups;
  const conv = (k: number, cin: number, cout: number): number => k * k * cin * cout + cout;
  return (
    conv(11, 3, c1) +
    conv(5, c1 / g, c2) +
    conv(3, c2, c3) +
    conv(3, c3 / g, c4) +
    conv(3, c4 / g, c5) +
    (pool5 * c.fcUnits + c.fcUnits) +
    (c.fcUnits * c.fcUnits + c.fcUnits) +
    (c.fcUnits * c.numClasses + c.numClasses)
  );
}

function badConfig(partial: Partial<AlexNetConfig>): EngineError {
  try {
    makeConfig(partial);
  } catch (e) {
    if (e instanceof EngineError) return e;
    throw e;
  }
  throw new Error(`makeConfig(${JSON.stringify(partial)}) did not throw`);
}

describe('AlexNet config', () => {
  it('has 60,965,224 parameters with 1000 classes', () => {
    expect(paramCount(DEFAULT_CONFIG)).toBe(60_965_224);
    expect(paramCount(makeConfig({ numClasses: 1000 }))).toBe(60_965_224);
    expect(countByHand(DEFAULT_CONFIG, 6 * 6 * 256)).toBe(60_965_224);
  });

  it('follows 227 -> 55 -> 27 -> 13 -> 6 with the paper settings', () => {
    const s = layerShapes(DEFAULT_CONFIG);
    expect(s.conv1).toEqual([55, 55, 96]);
    expect(s.pool1).toEqual([27, 27, 96]);
    expect(s.conv2).toEqual([27, 27, 256]);
    expect(s.pool2).toEqual([13, 13, 256]);
    expect(s.conv3).toEqual([13, 13, 384]);
    expect(s.conv4).toEqual([13, 13, 384]);
    expect(s.conv5).toEqual([13, 13, 256]);
    expect(pool5Shape(DEFAULT_CONFIG)).toEqual([6, 6, 256]);
    expect(paramShapes(DEFAULT_CONFIG)['fc6.w']).toEqual([9216, 4096]);
  });

  it('gives every parameter the documented layout', () => {
    const s = paramShapes(DEFAULT_CONFIG);
    expect(Object.keys(s).sort()).toEqual([...PARAM_NAMES].sort());
    expect(s['conv1.w']).toEqual([11, 11, 3, 96]);
    expect(s['conv2.w']).toEqual([5, 5, 48, 256]); // groups 2: each half sees 48 of conv1's 96
    expect(s['conv3.w']).toEqual([3, 3, 256, 384]);
    expect(s['conv4.w']).toEqual([3, 3, 192, 384]);
    expect(s['conv5.w']).toEqual([3, 3, 192, 256]);
    expect(s['fc8.w']).toEqual([4096, 1000]);
    expect(s['fc8.b']).toEqual([1000]);
  });

  it('groups 1 has the full convolutions (more parameters in conv2/4/5 only)', () => {
    const one = makeConfig({ groups: 1 });
    const s = paramShapes(one);
    expect(s['conv2.w']).toEqual([5, 5, 96, 256]);
    expect(s['conv4.w']).toEqual([3, 3, 384, 384]);
    expect(s['conv5.w']).toEqual([3, 3, 384, 256]);
    const extra = 5 * 5 * 48 * 256 + 3 * 3 * 192 * 384 + 3 * 3 * 192 * 256; // the off-diagonal blocks
    expect(paramCount(one) - paramCount(DEFAULT_CONFIG)).toBe(extra);
    expect(paramCount(one)).toBe(countByHand(one, 9216));
  });

  it('non-overlapping 2x2/2 pooling computes its own pool5 size', () => {
    const flat = makeConfig({ overlappingPool: false });
    // 55 -> 27 -> 13 -> 6 as well at 227 (floor((55-2)/2)+1 = 27): the paper's "same output size".
    expect(pool5Shape(flat)).toEqual([6, 6, 256]);
    // At 235 the two pooling schemes part: conv1 57; 3/2: 28 -> 13 -> 6; 2/2: 28 -> 14 -> 7.
    expect(pool5Shape(makeConfig({ inputSize: 235 }))).toEqual([6, 6, 256]);
    expect(pool5Shape(makeConfig({ inputSize: 235, overlappingPool: false }))).toEqual([7, 7, 256]);
    expect(paramShapes(makeConfig({ inputSize: 235, overlappingPool: false }))['fc6.w']).toEqual([7 * 7 * 256, 4096]);
    expect(paramCount(makeConfig({ inputSize: 235, overlappingPool: false }))).toBe(
      countByHand(makeConfig({ inputSize: 235, overlappingPool: false }), 7 * 7 * 256),
    );
  });

  it('other input sizes change pool5 and fc6 only', () => {
    const c = makeConfig({ inputSize: 259 }); // conv1 63 -> 31 -> 15 -> 7
    expect(pool5Shape(c)).toEqual([7, 7, 256]);
    expect(paramCount(c) - paramCount(DEFAULT_CONFIG)).toBe((49 - 36) * 256 * 4096);
  });

  it('the tiny test config is a real, grouped, normalised AlexNet', () => {
    expect(validateConfig(TINY_CONFIG)).toBe(TINY_CONFIG);
    expect(TINY_CONFIG.groups).toBe(2);
    expect(TINY_CONFIG.lrn).not.toBeNull();
    expect(pool5Shape(TINY_CONFIG)).toEqual([2, 2, TINY_CONFIG.channels[4]]);
    expect(paramCount(TINY_CONFIG)).toBeLessThan(50_000);
  });

  it('makeConfig returns a fresh, validated copy', () => {
    const c = makeConfig({ numClasses: 5, lrn: null, activation: 'tanh', dropout: 0 });
    expect(c.numClasses).toBe(5);
    expect(c.lrn).toBeNull();
    expect(c.activation).toBe('tanh');
    expect(c.channels).toEqual(DEFAULT_CONFIG.channels);
    expect(c.channels).not.toBe(DEFAULT_CONFIG.channels);
    c.channels[0] = 1;
    expect(DEFAULT_CONFIG.channels[0]).toBe(96);
    expect(makeConfig().lrn).toEqual({ size: 5, k: 2, alpha: 1e-4, beta: 0.75 });
    expect(makeConfig({ lrn: { size: 5, k: 1, alpha: 1e-4, beta: 0.75 } }).lrn?.k).toBe(1);
  });

  it('rejects bad switches with BAD_CONFIG and a message naming the field', () => {
    const cases: [Partial<AlexNetConfig>, RegExp][] = [
      [{ numClasses: 1 }, /numClasses/],
      [{ numClasses: 2.5 }, /numClasses/],
      [{ inputSize: 0 }, /inputSize/],
      [{ inputSize: 40 }, /inputSize 40 is too small/],
      [{ channels: [96, 256, 384, 384] as unknown as AlexNetConfig['channels'] }, /channels/],
      [{ channels: [95, 256, 384, 384, 256] }, /conv1 has 95/],
      [{ groups: 3 as unknown as 1 }, /groups must be 1 or 2/],
      [{ fcUnits: 0 }, /fcUnits/],
      [{ lrn: { size: 4, k: 2, alpha: 1e-4, beta: 0.75 } }, /lrn.size must be an odd/],
      [{ lrn: { size: 5, k: -1, alpha: 1e-4, beta: 0.75 } }, /lrn.k/],
      [{ lrn: { size: 5, k: 2, alpha: Number.NaN, beta: 0.75 } }, /lrn.alpha/],
      [{ activation: 'sigmoid' as unknown as 'relu' }, /activation must be 'relu' or 'tanh'/],
      [{ dropout: 1 }, /dropout must be in \[0, 1\)/],
      [{ dropout: -0.1 }, /dropout/],
      [{ overlappingPool: 'yes' as unknown as boolean }, /overlappingPool/],
    ];
    for (const [partial, re] of cases) {
      const e = badConfig(partial);
      expect(e.code).toBe('BAD_CONFIG');
      expect(e.message).toMatch(re);
      expect(e.message).not.toContain('\n');
    }
    // groups 1 accepts odd channel counts
    expect(makeConfig({ groups: 1, channels: [95, 255, 383, 383, 255] }).channels[0]).toBe(95);
  });
});
