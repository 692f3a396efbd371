// main/app/validate.ts: its validators on their own, and every handler refusing malformed calls through
// dispatch (as IPC and HTTP call them) with BAD_INPUT naming the field, changing nothing.
import { describe, expect, it } from 'vitest';
import { absPath, bool, check, id, int, list, nullable, num, obj, oneOf, opt, str } from '../../../main/app/validate';
import { LIMITS, type Channel } from '../../../preload/contract';
import { useImportedLibrary } from '../../helpers/app';

const PER_CLASS = 6;
const lib = useImportedLibrary(PER_CLASS);

/** The BAD_INPUT message `run` throws, or null when it returns. */
function refusal(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (e) {
    expect(e).toMatchObject({ code: 'BAD_INPUT' });
    return (e as Error).message;
  }
}

describe('validators', () => {
  it('numbers: integers and ids within bounds, finite numbers within bounds', () => {
    expect(int(0, 10)(10, 'n')).toBe(10);
    expect(refusal(() => int(0, 10)(11, 'n'))).toBe('n must be an integer from 0 to 10, got 11');
    expect(refusal(() => int(0, 10)(1.5, 'n'))).toBe('n must be an integer from 0 to 10, got 1.5');
    expect(refusal(() => int(0)('3', 'n'))).toMatch(/^n must be an integer .* got '3'$/);
    expect(id(1, 'id')).toBe(1);
    expect(refusal(() => id(0, 'id'))).toMatch(/^id must be an integer from 1 /);
    expect(num(0, 1)(0.5, 'p')).toBe(0.5);
    expect(refusal(() => num(0, 1)(Number.POSITIVE_INFINITY, 'p'))).toBe('p must be a number from 0 to 1, got Infinity');
    expect(refusal(() => num(0, 1)(Number.NaN, 'p'))).toBe('p must be a number from 0 to 1, got NaN');
  });

  it('text and paths: lengths, NUL characters, absolute paths only (normalised)', () => {
    expect(str(5)('abc', 's')).toBe('abc');
    expect(refusal(() => str(5)('abcdef', 's'))).toBe('s must be 1-5 characters long, got 6');
    expect(refusal(() => str(5)('   ', 's'))).toBe('s must be 1-5 characters long, got 3'); // blank after trimming
    expect(refusal(() => str(5)('a\0b', 's'))).toBe('s must not contain NUL characters');
    expect(refusal(() => str()(null, 's'))).toBe('s must be text, got null');
    expect(refusal(() => str()('x'.repeat(LIMITS.nameLength + 1), 's'))).toMatch(/^s must be 1-\d+ characters long/);
    expect(absPath('/a/b/../c', 'p')).toBe('/a/c');
    expect(refusal(() => absPath('a/b', 'p'))).toBe("p must be an absolute path, got 'a/b'");
  });

  it('choices, booleans, nullables and lists (each item named by its index)', () => {
    expect(oneOf('a', 'b')('b', 'k')).toBe('b');
    expect(refusal(() => oneOf('a', 'b')('c', 'k'))).toBe("k must be one of a, b, got 'c'");
    expect(bool(false, 'f')).toBe(false);
    expect(refusal(() => bool(0, 'f'))).toBe('f must be true or false, got 0');
    expect(nullable(id)(null, 'c')).toBeNull();
    expect(refusal(() => nullable(id)(undefined, 'c'))).toMatch(/^c must be an integer/);
    expect(list(id, 3)([1, 2], 'ids')).toEqual([1, 2]);
    expect(refusal(() => list(id, 3)([1, 2, 3, 4], 'ids'))).toBe('ids must have 0-3 items, got 4');
    expect(refusal(() => list(id, 3, 1)([], 'ids'))).toBe('ids must have 1-3 items, got 0');
    expect(refusal(() => list(id, 3)([1, 'x'], 'ids'))).toMatch(/^ids\[1\] must be an integer/);
    expect(refusal(() => list(id, 3)({ 0: 1 }, 'ids'))).toBe('ids must be a list, got an object');
  });

  it('objects: exactly the known fields, optional ones may be absent, inherited names are not fields', () => {
    const v = obj({ a: id, b: opt(str()) });
    expect(check(v, { a: 1 })).toEqual({ a: 1 });
    expect(check(v, { a: 1, b: undefined })).toEqual({ a: 1 });
    expect(check(v, { a: 1, b: 'x' })).toEqual({ a: 1, b: 'x' });
    expect(refusal(() => check(v, { a: 1, c: 2 }))).toBe('request.c is not a known field');
    expect(refusal(() => check(v, { b: 'x' }))).toMatch(/^request\.a must be an integer/);
    expect(refusal(() => check(v, { a: 1, b: 2 }))).toBe('request.b must be text, got 2');
    expect(refusal(() => check(v, JSON.parse('{"a": 1, "__proto__": {"x": 1}}')))).toBe('request.__proto__ is not a known field');
    expect(refusal(() => check(obj({ toString: opt(str()) }), {}))).toBeNull();
    expect(refusal(() => check(v, [1]))).toBe('request must be an object, got a list');
    expect(refusal(() => check(v, null))).toBe('request must be an object, got null');
  });
});

describe('input validation', () => {
  // [channel, malformed request, what the message must name]
  const cases: [Channel, unknown, string][] = [
    ['datasets:create', {}, 'request.name'],
    ['datasets:create', { name: '' }, 'request.name'],
    ['datasets:create', { name: 'x'.repeat(201) }, 'request.name'],
    ['datasets:create', { name: 'ok', extra: 1 }, 'request.extra'],
    ['datasets:rename', { datasetId: '1', name: 'x' }, 'request.datasetId'],
    ['datasets:delete', { datasetId: 0 }, 'request.datasetId'],
    ['datasets:delete', { datasetId: 1.5 }, 'request.datasetId'],
    ['datasets:list', { all: true }, 'request.all'],
    ['photos:list', { datasetId: 1, limit: 100_000 }, 'request.limit'],
    ['photos:list', { datasetId: 1, sort: 'size' }, 'request.sort'],
    ['photos:list', { datasetId: 1, minP: 2 }, 'request.minP'],
    ['photos:list', { datasetId: 1, classIds: [1, 'a'] }, 'request.classIds[1]'],
    ['photos:list', null, 'request'],
    ['photos:list', [1], 'request'],
    ['photos:add', { datasetId: 1, files: ['../etc/passwd'] }, 'request.files[0]'],
    ['photos:add', { datasetId: 1, files: [] }, 'request.files'],
    ['classes:create', { datasetId: 1, name: 'a\0b' }, 'request.name'],
    ['classes:update', { classId: 1, hotkey: 12 }, 'request.hotkey'],
    ['labels:set', { datasetId: 1, photoIds: [], classId: 1 }, 'request.photoIds'],
    ['labels:set', { datasetId: 1, photoIds: [1], classId: -1 }, 'request.classId'],
    ['labels:set', { datasetId: 1, photoIds: [1] }, 'request.classId'],
    ['labels:undo', { datasetId: Number.NaN }, 'request.datasetId'],
    ['runs:start', { datasetId: 1, settings: { epochs: 0 } }, 'request.settings.epochs'],
    ['runs:start', { datasetId: 1, settings: { lr: 'fast' } }, 'request.settings.lr'],
    ['runs:start', { datasetId: 1, settings: { batchSize: 1e9 } }, 'request.settings.batchSize'],
    ['runs:start', { datasetId: 1, settings: { backend: 'quantum' } }, 'request.settings.backend'],
    ['runs:evaluation', { runId: 1, subset: 'test' }, 'request.subset'],
    ['models:export', { runId: 1, format: 'pt', folder: '/tmp' }, 'request.format'],
    ['classify:files', { runId: 1, files: ['relative.jpg'] }, 'request.files[0]'],
    ['weights:import', { file: 'C:relative' }, 'request.file'],
    ['import:start', { folder: 42 }, 'request.folder'],
  ];

  it.each(cases)('%s refuses %j with BAD_INPUT naming the field', async (channel, req, field) => {
    const { h } = lib;
    const r = await h.raw(channel, req);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('BAD_INPUT');
    expect(r.error.message.startsWith(field + ' ')).toBe(true);
  });

  it('a malformed call changes nothing in the library', async () => {
    const { h, ds } = lib;
    const snapshot = async () =>
      JSON.stringify([
        await h.ok('datasets:list', {}),
        await h.ok('classes:list', { datasetId: ds }),
        await h.ok('photos:list', { datasetId: ds, limit: 1000 }),
        await h.ok('labels:peek', { datasetId: ds }),
      ]);
    const before = await snapshot();
    for (const [channel, req] of cases) await h.raw(channel, req);
    // also well-typed calls that fail on content: unknown ids
    await h.raw('labels:set', { datasetId: ds, photoIds: [1, 999_999], classId: null });
    await h.raw('classes:merge', { fromId: 999_999, intoId: 1 });
    expect(await snapshot()).toBe(before);
  });
});
