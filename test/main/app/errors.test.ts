// main/app/errors.ts: library and engine errors keep their code's meaning and message; anything else is
// INTERNAL, logged, and its message hidden from the window.
import { describe, expect, it } from 'vitest';
import { AppError, INTERNAL_MESSAGE, toErrorPayload } from '../../../main/app/errors';
import { DbError } from '../../../db/errors';
import { EngineError } from '../../../ml/errors';

describe('error mapping', () => {
  it('maps library and engine codes, keeps their message, hides unknown errors', () => {
    expect(toErrorPayload(new DbError('CLASS_EXISTS', 'the dataset already has a class x'))).toEqual({ code: 'CONFLICT', message: 'the dataset already has a class x' });
    expect(toErrorPayload(new EngineError('TOO_FEW_IMAGES', 'class "a" has 1 image'))).toEqual({ code: 'TOO_FEW_IMAGES', message: 'class "a" has 1 image' });
    expect(toErrorPayload(new EngineError('NOT_ALEXNET', 'not the BVLC AlexNet ONNX file: x'))).toMatchObject({ code: 'BAD_WEIGHTS' });
    expect(toErrorPayload(new EngineError('GPU_FAILED', 'the GPU (x) reported an error: y'))).toEqual({ code: 'GPU_FAILED', message: 'the GPU (x) reported an error: y' });
    expect(toErrorPayload(new AppError('BUSY', 'run 3 is training'))).toEqual({ code: 'BUSY', message: 'run 3 is training' });
    const logged: unknown[] = [];
    const sys = Object.assign(new Error("ENOENT: no such file, open '/secret/path'"), { code: 'ENOENT' });
    expect(toErrorPayload(sys, (e) => logged.push(e))).toEqual({ code: 'INTERNAL', message: INTERNAL_MESSAGE });
    expect(toErrorPayload(new TypeError('x is undefined'), (e) => logged.push(e))).toEqual({ code: 'INTERNAL', message: INTERNAL_MESSAGE });
    expect(logged).toHaveLength(2);
  });
});
