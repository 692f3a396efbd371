// main/validate.ts: its validators on their own, and every handler refusing malformed calls through
// dispatch (as IPC and HTTP call them) with BAD_INPUT naming the field, changing nothing.
import { describe, expect, it } from 'vitest';
import type { Channel } from '../../preload/contract';
import { useImportedLibrary } from './helpers';

const PER_CLASS = 6;
const lib = useImportedLibrary(PER_CLASS);

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
