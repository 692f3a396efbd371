// The renderer's client over real HTTP: browser mode's server (main/server/server.ts) with the real
// handlers; replies unwrap to values, error replies to AppError with their code, a wrong token reads
// as FORBIDDEN in words, an unreachable server as INTERNAL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../main/server/server';
import { Api, AppError, httpApi, imageUrl, toAppError } from '../../renderer/src/lib/api';
import { harness, type Harness } from '../helpers/app';

let h: Harness;
let server: RunningServer;
let base: string;

beforeAll(async () => {
  h = harness();
  server = await startServer({ ctx: h.ctx, handlers: h.handlers, staticDir: null });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server?.close();
  await h?.close();
});

describe('api over HTTP', () => {
  it('calls a channel and unwraps its value', async () => {
    const api = new Api(httpApi(base, server.token));
    const ds = await api.call('datasets:create', { name: 'photos' });
    expect(ds.name).toBe('photos');
    expect((await api.call('datasets:list', {})).map((d) => d.id)).toEqual([ds.id]);
  });

  it('an error reply becomes an AppError with its code and message', async () => {
    const api = new Api(httpApi(base, server.token));
    const err = await api.call('datasets:counts', { datasetId: 999 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('NOT_FOUND');
    const bad = await api.call('import:start', { folder: 'relative/path' }).catch((e: unknown) => e);
    expect((bad as AppError).code).toBe('BAD_INPUT');
  });

  it('a wrong token is FORBIDDEN in words; an unreachable server is INTERNAL', async () => {
    const wrong = await new Api(httpApi(base, 'nope')).call('datasets:list', {}).catch((e: unknown) => e);
    expect((wrong as AppError).code).toBe('FORBIDDEN');
    const gone = await new Api(httpApi('http://127.0.0.1:1', server.token)).call('datasets:list', {}).catch((e: unknown) => e);
    expect((gone as AppError).code).toBe('INTERNAL');
    expect((gone as AppError).message).toMatch(/cannot be reached/);
  });

  it('toAppError keeps known codes and wraps anything else; imageUrl fills the template', () => {
    expect(toAppError({ code: 'BUSY', message: 'run 3' }).code).toBe('BUSY');
    expect(toAppError({ code: 'WHATEVER', message: 'x' }).code).toBe('INTERNAL');
    expect(toAppError(new Error('boom')).message).toBe('boom');
    expect(imageUrl('app-img://photo/{id}?size=thumb', 17)).toBe('app-img://photo/17?size=thumb');
  });
});
