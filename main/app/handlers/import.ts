// import:* — a folder into a dataset, in the background with progress events and cancel. The
// import itself (db/import.ts) reads files and decodes thumbnails in libuv's thread pool, so the
// main event loop stays free; progress is throttled to a few events a second.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { hasPhotos, importFolder, noPhotos, type ImportSummary } from '../../../db/import';
import type { Events, ImportSummaryInfo } from '../../../preload/contract';
import { absPath, bool, id, obj, opt, str } from '../validate';
import type { AppContext } from '../context';
import { AppError, toErrorPayload } from '../errors';
import { requireDataset, handler, type HandlerMap } from './common';

const PROGRESS_MS = 200; // at most five import:progress a second

export function summaryInfo(s: ImportSummary): ImportSummaryInfo {
  return {
    datasetId: s.datasetId,
    dataset: s.dataset,
    root: s.root,
    found: s.found,
    added: s.added,
    unchanged: s.unchanged,
    updated: s.updated,
    reappeared: s.reappeared,
    duplicates: s.duplicates.length,
    unreadable: s.unreadable.slice(0, 100),
    skipped: s.skipped.length,
    classesCreated: s.classesCreated,
    labeled: s.labeled,
    missing: s.missing,
    cancelled: s.cancelled,
    durationMs: s.durationMs,
  };
}

export function importHandlers(ctx: AppContext): HandlerMap<'import:start' | 'import:cancel'> {
  const { lib } = ctx;
  return {
    'import:start': handler(obj({ folder: absPath, datasetId: opt(id), datasetName: opt(str()), classesFromFolders: opt(bool) }), async (r) => {
      if (r.datasetId !== undefined && r.datasetName !== undefined) throw new AppError('BAD_INPUT', 'give datasetId or datasetName, not both');
      const st = fs.statSync(r.folder, { throwIfNoEntry: false });
      if (!st) throw new AppError('FOLDER_NOT_FOUND', `no such folder: ${r.folder}`);
      if (!st.isDirectory()) throw new AppError('FOLDER_NOT_FOUND', `not a folder: ${r.folder}`);
      const name = r.datasetName ?? (path.basename(r.folder) || 'Photos');
      if (r.datasetId === undefined && !lib.datasets.byName(name) && !(await hasPhotos(r.folder))) throw noPhotos(r.folder); // no empty dataset
      const dataset = r.datasetId !== undefined ? requireDataset(ctx, r.datasetId) : lib.datasets.ensure(name, r.folder);
      const importId = randomUUID();
      const controller = new AbortController();
      ctx.imports.set(importId, controller);
      let last = 0;
      let pending: Events['import:progress'] | null = null;
      let timer: NodeJS.Timeout | null = null;
      const flush = () => {
        if (timer) clearTimeout(timer);
        timer = null;
        if (pending) ctx.bus.emit('import:progress', pending);
        pending = null;
        last = Date.now();
      };
      void importFolder(lib, r.folder, {
        dataset: dataset.id,
        classesFromFolders: r.classesFromFolders ?? true,
        signal: controller.signal,
        onProgress: (p) => {
          pending = { importId, datasetId: dataset.id, phase: p.phase, done: p.done, total: p.total, added: p.added };
          const wait = PROGRESS_MS - (Date.now() - last);
          if (wait <= 0) flush();
          else if (!timer) timer = setTimeout(flush, wait);
        },
      })
        .then((s) => {
          flush();
          ctx.bus.emit('import:done', { importId, datasetId: dataset.id, summary: summaryInfo(s), error: null });
          ctx.bus.emit('library:changed', { datasetId: dataset.id, what: 'photos' });
        })
        .catch((err: unknown) => {
          flush();
          ctx.bus.emit('import:done', { importId, datasetId: dataset.id, summary: null, error: toErrorPayload(err, (e) => ctx.log('error', 'import failed', e)) });
        })
        .finally(() => ctx.imports.delete(importId));
      return { importId, datasetId: dataset.id };
    }),
    'import:cancel': handler(obj({ importId: str(64) }), (r) => {
      const c = ctx.imports.get(r.importId);
      if (!c) return { cancelled: false };
      c.abort();
      return { cancelled: true };
    }),
  };
}
