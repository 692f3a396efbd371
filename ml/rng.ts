// A small, fast, seeded pseudo-random number generator for everything the engine randomises:
// shuffling, random crops and flips, PCA colour noise, weight initialisation seeds.
//
// Generator: xoshiro128** (Blackman & Vigna), 128 bits of state, 32-bit outputs, seeded through
// splitmix32 so that nearby seeds (0, 1, 2, ...) give unrelated streams. Pure integer arithmetic in
// JS (Math.imul, >>> 0), so a seed gives the same stream on every machine, OS and Node version.
//
// fork(label) derives an independent child stream from this generator's SEED and the label only
// (it does not consume or depend on the parent's draws), so e.g. `rng.fork('epoch').fork(3)` is
// the same stream whatever was drawn before: this is what makes per-epoch shuffles and
// per-image augmentations reproducible regardless of decode order or concurrency.

export type Rng = {
  next(): number; // uniform float in [0, 1), 32 bits of randomness
  int(n: number): number; // uniform integer in [0, n), n a positive integer <= 2^32
  normal(): number; // standard normal N(0, 1) (Box-Muller)
  normals(n: number, std?: number): Float32Array; // n draws of N(0, std^2) (polar method: its own sequence, not n calls of normal())
  shuffle<T>(a: T[]): T[]; // Fisher-Yates, IN PLACE; returns the same array for chaining
  fork(label: string | number): Rng; // independent child stream keyed by (this seed, label)
  readonly seed: number; // the 32-bit key this stream was created from
};

const TWO_POW_32 = 4294967296;

// splitmix32: a bijective 32-bit mixer; used to expand one 32-bit key into xoshiro's 4 words and
// to combine keys with labels.
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

// FNV-1a over the label's UTF-16 code units, so string and number labels give distinct keys
// ('3' vs 3 are deliberately different: numbers are hashed with a 'n:' prefix).
function hashLabel(label: string | number): number {
  const s = typeof label === 'number' ? `n:${label}` : `s:${label}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// Normalise any JS number seed (negative, fractional, > 2^32) to a 32-bit unsigned key.
function toKey(seed: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
  const lo = Math.trunc(seed) >>> 0;
  const hi = Math.trunc(seed / TWO_POW_32) >>> 0; // keeps seeds above 2^32 distinct
  return (lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0;
}

function fromKey(key: number): Rng {
  const sm = { s: key | 0 };
  let s0 = splitmix32(sm);
  let s1 = splitmix32(sm);
  let s2 = splitmix32(sm);
  let s3 = splitmix32(sm);
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is xoshiro's only fixed point

  // xoshiro128**: one 32-bit output per call.
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };

  let spare: number | null = null; // Box-Muller makes normals in pairs; the second is kept here

  const rng: Rng = {
    seed: key,
    next: () => nextU32() / TWO_POW_32,
    int(n: number): number {
      if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new RangeError(`rng.int(n) needs an integer 1..2^32, got ${n}`);
      // Rejection sampling: exact uniformity (no modulo bias) for every n.
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      let x = nextU32();
      while (x >= limit) x = nextU32();
      return x % n;
    },
    normal(): number {
      if (spare !== null) {
        const v = spare;
        spare = null;
        return v;
      }
      // u1 in (0, 1] so log(u1) is finite.
      const u1 = (nextU32() + 1) / TWO_POW_32;
      const u2 = nextU32() / TWO_POW_32;
      const r = Math.sqrt(-2 * Math.log(u1));
      spare = r * Math.sin(2 * Math.PI * u2);
      return r * Math.cos(2 * Math.PI * u2);
    },
    normals(n: number, std = 1): Float32Array {
      // Marsaglia's polar method: no sin/cos per draw (weight initialisation draws tens of millions).
      const out = new Float32Array(n);
      const scale = 2 / TWO_POW_32;
      let i = 0;
      while (i < n) {
        const r1 = nextU32();
        const r2 = nextU32();
        const u = r1 * scale - 1; // uniform in [-1, 1)
        const v = r2 * scale - 1;
        const q = u * u + v * v;
        if (q >= 1 || q === 0) continue; // keep points inside the unit disk
        const f = std * Math.sqrt((-2 * Math.log(q)) / q);
        out[i++] = u * f;
        if (i < n) out[i++] = v * f;
      }
      return out;
    },
    shuffle<T>(a: T[]): T[] {
      for (let i = a.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = a[i] as T;
        a[i] = a[j] as T;
        a[j] = t;
      }
      return a;
    },
    fork(label: string | number): Rng {
      const sm = { s: (key ^ hashLabel(label)) | 0 };
      splitmix32(sm);
      return fromKey(splitmix32(sm) ^ Math.imul(hashLabel(label), 0x27d4eb2f));
    },
  };
  return rng;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A deterministic generator for `seed` (any finite number; integers are the usual choice). */
export function createRng(seed: number): Rng {
  return fromKey(toKey(seed));
}
