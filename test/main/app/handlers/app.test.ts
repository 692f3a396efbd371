// main/app/handlers/app.ts through the contract (dispatch, as IPC and HTTP call them), on a real library
// file.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useHarness } from '../../../helpers/app';

const lib = useHarness();

describe('app', () => {
  it('app:info names the mode, the library and the image URL templates', async () => {
    const { h } = lib;
    const info = await h.ok('app:info', {});
    expect(info.mode).toBe('browser');
    expect(info.dbFile).toBe(path.join(h.dataDir, 'library.sqlite'));
    expect(info.imageUrl.thumb).toContain('{id}');
    expect(info.runningRunId).toBeNull();
  });

  it('dialog:pick is UNSUPPORTED without a native dialog', async () => {
    const { h } = lib;
    const r = await h.call('dialog:pick', { kind: 'folder' });
    expect(r.ok ? null : r.error.code).toBe('UNSUPPORTED');
  });
});
