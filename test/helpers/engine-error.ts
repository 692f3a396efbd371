// The EngineError a promise rejects with (to check its code and message); a promise that resolves,
// or rejects with anything else, fails the test.
import { expect } from 'vitest';
import { EngineError } from '../../ml/errors';

export async function engineError(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error('expected an EngineError');
}
