// runs:predict — the model in use predicts the photos of its dataset that it has not seen yet
// (imported or added after it trained), in the background, a chunk per worker, with progress as
// predict:progress; library:changed 'photos' at the end refreshes the grid and the suggestions.
// One job per run: asking again while it works queues one more pass (for photos added meanwhile).
// predict:cancel stops it (the chunk at work is dropped, the chunks done are kept).
import type { AppContext } from '../context';
import { AppError } from '../errors';
import { id, obj } from '../validate';
import { handler, type HandlerMap } from './common';
import { classifyFiles } from './runs';

const CHUNK = 100; // photos per worker: progress every chunk, one model load per chunk

export function predictHandlers(ctx: AppContext): HandlerMap<'runs:predict' | 'predict:cancel'> {
  const { lib } = ctx;
  const running = new Map<number, { queued: number; again: boolean; controller: AbortController }>(); // runId -> the job at work
  return {
    'runs:predict': handler(obj({ runId: id }), (r) => {
      const run = lib.runs.get(r.runId);
      if (run.status !== 'finished') throw new AppError('CONFLICT', `run ${r.runId} is ${run.status}: only a finished run predicts`);
      if (run.datasetId === null) throw new AppError('NOT_FOUND', `the dataset of run ${r.runId} was deleted`);
      const datasetId = run.datasetId;
      const todoNow = () =>
        lib.photos
          .all(datasetId)
          .filter((p) => p.status === 'ok' && lib.predictions.get(r.runId, p.id) === undefined)
          .map((p) => ({ photoId: p.id, path: p.path }));
      const job = running.get(r.runId);
      if (job) {
        job.again = true; // the job looks again when it ends
        return { queued: job.queued };
      }
      const todo = todoNow();
      if (todo.length === 0) return { queued: 0 };
      const state = { queued: todo.length, again: false, controller: new AbortController() };
      running.set(r.runId, state);
      const pass = async (items: typeof todo) => {
        let done = 0;
        ctx.bus.emit('predict:progress', { runId: r.runId, datasetId, done, total: items.length, error: null });
        for (let i = 0; i < items.length; i += CHUNK) {
          const chunk = items.slice(i, i + CHUNK);
          const results = await classifyFiles(ctx, r.runId, chunk.map((p) => p.path), Math.min(5, run.classes.length), 'center', { signal: state.controller.signal });
          const rows = results.flatMap((x, j) => ('predictions' in x ? [{ photoId: chunk[j].photoId, topk: x.predictions }] : []));
          lib.predictions.write(r.runId, rows);
          done += chunk.length;
          ctx.bus.emit('predict:progress', { runId: r.runId, datasetId, done, total: items.length, error: null });
        }
      };
      const work = async () => {
        await pass(todo);
        while (state.again && !state.controller.signal.aborted) {
          state.again = false;
          const more = todoNow();
          if (more.length === 0) break;
          state.queued = more.length;
          await pass(more);
        }
      };
      void work()
        .catch((err: unknown) => {
          const e = err instanceof AppError ? err : null;
          const cancelled = e?.code === 'CANCELLED';
          if (!cancelled) ctx.log?.('warn', `run ${r.runId}: predicting new photos failed`, err);
          ctx.bus.emit('predict:progress', { runId: r.runId, datasetId, done: 0, total: state.queued, error: { code: e ? e.code : 'INTERNAL', message: cancelled ? 'predicting new photos was cancelled' : err instanceof Error ? err.message : String(err) } });
        })
        .finally(() => {
          running.delete(r.runId);
          ctx.bus.emit('library:changed', { datasetId, what: 'photos' });
        });
      return { queued: todo.length };
    }),
    'predict:cancel': handler(obj({ runId: id }), (r) => {
      const job = running.get(r.runId);
      job?.controller.abort();
      return { cancelled: job !== undefined };
    }),
  };
}
