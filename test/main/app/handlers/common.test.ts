// main/app/handlers/common.ts's handler() over main/app/validate.ts: the validators' messages, and the compile-time rule
// that a handler's validator outputs exactly the contract's request type. The @ts-expect-error lines
// are the test of that rule: `npx tsc -p tsconfig.json --noEmit` fails if any of them compiles.
import { describe, expect, it } from 'vitest';
import { handler, type HandlerMap } from '../../../../main/app/handlers/common';
import { id, noArgs, nullable, obj, oneOf, opt, str } from '../../../../main/app/validate';

const kind = oneOf('folder', 'files', 'save-folder');
const pick = () => ({ paths: [] });

// the validators of the contract's 'dialog:pick' ({ kind; title?: string }) and 'labels:set'
// ({ datasetId; photoIds: number[]; classId: number | null }), right and wrong
const exact: HandlerMap<'dialog:pick'> = { 'dialog:pick': handler(obj({ kind, title: opt(str(200)) }), pick) };

export const drifted: HandlerMap<'dialog:pick'>[] = [
  // @ts-expect-error the contract's optional `title` is missing
  { 'dialog:pick': handler(obj({ kind }), pick) },
  // @ts-expect-error `title` is required here but optional in the contract
  { 'dialog:pick': handler(obj({ kind, title: str(200) }), pick) },
  // @ts-expect-error a field the contract does not have
  { 'dialog:pick': handler(obj({ kind, title: opt(str(200)), extra: opt(id) }), pick) },
  // @ts-expect-error a narrower type than the contract's
  { 'dialog:pick': handler(obj({ kind: oneOf('folder'), title: opt(str(200)) }), pick) },
];

const labelResult = () => ({ action: null, counts: { total: 0, labeled: 0, unlabeled: 0, byStatus: { ok: 0, unreadable: 0, missing: 0 }, byClass: [] }, undo: null, redo: null });
export const drifted2: HandlerMap<'labels:set'>[] = [
  // @ts-expect-error the contract's required `photoIds` is missing
  { 'labels:set': handler(obj({ datasetId: id, classId: nullable(id) }), labelResult) },
  // @ts-expect-error `classId` may be null in the contract
  { 'labels:set': handler(obj({ datasetId: id, photoIds: (v, at) => [id(v, at)], classId: id }), labelResult) },
  // @ts-expect-error a call without arguments takes {} only
  { 'labels:set': handler(noArgs, labelResult) },
];

describe('validators', () => {
  it('a handler keeps its validator, which dispatch applies', () => {
    const h = exact['dialog:pick'];
    if (typeof h === 'function') throw new Error('handler() builds { input, run }');
    expect(h.input({ kind: 'files' }, 'request')).toEqual({ kind: 'files' });
    expect(() => h.input({ kind: 'files', titel: 'x' }, 'request')).toThrow('request.titel is not a known field');
    expect(() => h.input({ kind: 'disk' }, 'request')).toThrow("request.kind must be one of folder, files, save-folder, got 'disk'");
  });

  it('noArgs takes {} and nothing else', () => {
    expect(noArgs({}, 'request')).toEqual({});
    expect(() => noArgs({ a: 1 }, 'request')).toThrow('request.a is not a known field');
    expect(() => noArgs([], 'request')).toThrow('request must be an object, got a list');
  });
});
