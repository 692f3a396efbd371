// The EngineError a promise rejects with, or a call throws (to check its code and message); a promise
// that resolves, a call that returns, or anything else thrown fails the test.
import { expect } from 'vitest';
import { EngineError, type EngineErrorCode } from '../../ml/errors';

export async function engineError(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error('expected an EngineError');
}

/** The EngineError `f` throws, checked to carry `code` and a message of one line (the team's rule for bad input). */
export function thrownEngineError(f: () => unknown, code: EngineErrorCode): EngineError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).code).toBe(code);
    expect((e as EngineError).message).not.toContain('\n');
    return e as EngineError;
  }
  throw new Error(`expected an EngineError ${code}, and nothing was thrown`);
}
