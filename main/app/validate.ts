// Input validation for every request from the window. A validator checks an unknown value and
// returns it typed, or throws AppError('BAD_INPUT') naming the field and what was expected.
// Objects refuse keys they do not know (a typo is an error, not a silently ignored option).
import path from 'node:path';
import { LIMITS, type NoArgs } from '../../preload/contract';
import { BACKEND_ORDER, type BackendName } from '../../ml/backend';
import { AppError } from './errors';

export type Validator<T> = (v: unknown, at: string) => T;

const bad = (at: string, what: string): never => {
  throw new AppError('BAD_INPUT', `${at} ${what}`);
};

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'string' ? `'${v.slice(0, 40)}'` : typeof v === 'object' ? 'an object' : String(v));

/** An integer in [min, max]. */
export const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Validator<number> =>
  (v, at) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : bad(at, `must be an integer from ${min} to ${max}, got ${describe(v)}`);

/** A database id: a positive integer. */
export const id: Validator<number> = int(1);

/** A finite number in [min, max]. */
export const num =
  (min: number, max: number): Validator<number> =>
  (v, at) =>
    typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : bad(at, `must be a number from ${min} to ${max}, got ${describe(v)}`);

/** A string of minLen..maxLen characters (after trimming, when trim is set). */
export const str =
  (maxLen: number = LIMITS.nameLength, minLen = 1): Validator<string> =>
  (v, at) => {
    if (typeof v !== 'string') return bad(at, `must be text, got ${describe(v)}`);
    if (v.includes('\0')) return bad(at, 'must not contain NUL characters');
    const n = v.trim().length;
    return n >= minLen && v.length <= maxLen ? v : bad(at, `must be ${minLen}-${maxLen} characters long, got ${v.length}`);
  };

/** An absolute file-system path (no relative paths from the window: there is no "current folder"). */
export const absPath: Validator<string> = (v, at) => {
  const s = str(LIMITS.pathLength)(v, at);
  return path.isAbsolute(s) ? path.normalize(s) : bad(at, `must be an absolute path, got ${describe(s)}`);
};

export const bool: Validator<boolean> = (v, at) => (typeof v === 'boolean' ? v : bad(at, `must be true or false, got ${describe(v)}`));

export const oneOf =
  <const T extends string>(...values: T[]): Validator<T> =>
  (v, at) =>
    typeof v === 'string' && (values as string[]).includes(v) ? (v as T) : bad(at, `must be one of ${values.join(', ')}, got ${describe(v)}`);

/** A compute backend choice: 'auto' (the best that loads) or one of ml/backend.ts's, best first. */
export const backendChoice: Validator<'auto' | BackendName> = oneOf<'auto' | BackendName>('auto', ...BACKEND_ORDER);

export const nullable =
  <T>(inner: Validator<T>): Validator<T | null> =>
  (v, at) =>
    v === null ? null : inner(v, at);

export const list =
  <T>(item: Validator<T>, max: number, min = 0): Validator<T[]> =>
  (v, at) => {
    if (!Array.isArray(v)) return bad(at, `must be a list, got ${describe(v)}`);
    if (v.length < min || v.length > max) return bad(at, `must have ${min}-${max} items, got ${v.length}`);
    return v.map((x, i) => item(x, `${at}[${i}]`));
  };

/** Marks an object field as optional: absent (or undefined) is fine, anything else is checked. */
export type Optional<T> = { optional: true; check: Validator<T> };
export const opt = <T>(check: Validator<T>): Optional<T> => ({ optional: true, check });

type Shape = Record<string, Validator<unknown> | Optional<unknown>>;
type Out<S extends Shape> = { [K in keyof S as S[K] extends Optional<unknown> ? never : K]: S[K] extends Validator<infer T> ? T : never } & {
  [K in keyof S as S[K] extends Optional<unknown> ? K : never]?: S[K] extends Optional<infer T> ? T : never;
};

/** A plain object with exactly these fields (optional ones may be absent). */
export function obj<S extends Shape>(shape: S): Validator<Out<S>> {
  return (v, at) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(at, `must be an object, got ${describe(v)}`);
    const input = v as Record<string, unknown>;
    // own names only: 'constructor', '__proto__' or 'toString' are not fields because objects inherit them
    for (const k of Object.keys(input)) if (!Object.hasOwn(shape, k)) bad(`${at}.${k}`, 'is not a known field');
    const out: Record<string, unknown> = {};
    for (const [k, spec] of Object.entries(shape)) {
      const value = Object.hasOwn(input, k) ? input[k] : undefined;
      if (typeof spec === 'function') out[k] = spec(value, `${at}.${k}`);
      else if (value !== undefined) out[k] = spec.check(value, `${at}.${k}`);
    }
    return out as Out<S>;
  };
}

/** A call without arguments: {} (any field is an error). */
export const noArgs: Validator<NoArgs> = (v, at) => {
  obj({})(v, at);
  return {};
};

// Exactness: a validator's output type must be the contract's request type, both ways and at every
// depth, so that a field the contract adds (required or optional), drops or retypes and the
// validator misses is a compile error. Plain assignability is not enough: a validator that forgets
// an optional field, or accepts `string` where the contract now says `string | null`, still assigns.
// Norm rebuilds a type as one plain object at every level (obj()'s output is an intersection);
// SameType compares the two with the identity test of TypeScript's own type checker.
type Norm<T> = T extends readonly (infer E)[] ? Norm<E>[] : T extends object ? { [K in keyof T]: Norm<T[K]> } : T;
type Identical<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
/** true when A and B are the same type at every depth (optional fields and all). */
export type IsSame<A, B> = Identical<Norm<A>, Norm<B>>;
/** `unknown` when T and Want are the same type; otherwise a type no validator has, naming both. */
export type SameType<T, Want> = IsSame<T, Want> extends true ? unknown : { validatorOutput: T; contractWants: Want };

/** Validates the request of one call ('request' as the root name in messages). */
export function check<T>(validator: Validator<T>, req: unknown): T {
  return validator(req, 'request');
}
