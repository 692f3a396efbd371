// main/app/worker/protocol.ts: a worker's 'result' is typed by the job it was sent (Outcomes), on the
// host's side (WorkerHandle<J>, runWorkerJob) and the worker's (entry.ts's runners). These are
// compile-time facts: `npx tsc -p tsconfig.json --noEmit` checks them, vitest only loads the file.
import { describe, expectTypeOf, it } from 'vitest';
import type { BackendInfo } from '../../../preload/contract';
import { runWorkerJob } from '../../../main/app/worker/run';
import type { ClassifyJob, ClassifyOutcome, ExportJob, ExportOutcome, FromWorker, Outcome, ProbeJob, TrainJob, TrainOutcome } from '../../../main/app/worker/protocol';
import type { WorkerHandle } from '../../../main/app/worker/spawn';

describe('worker results by job kind', () => {
  it('each job kind has its outcome', () => {
    expectTypeOf<Outcome<TrainJob>>().toEqualTypeOf<TrainOutcome>();
    expectTypeOf<Outcome<ExportJob>>().toEqualTypeOf<ExportOutcome>();
    expectTypeOf<Outcome<ProbeJob>>().toEqualTypeOf<BackendInfo>();
    expectTypeOf(runWorkerJob<ClassifyJob>).returns.toEqualTypeOf<Promise<ClassifyOutcome>>();
  });

  it("a train worker's result is a TrainOutcome, not another kind's", () => {
    const onMessage = (m: FromWorker<TrainJob>): number | null => {
      if (m.type !== 'result') return null;
      // @ts-expect-error a train job never answers with an export's outcome
      const wrong: ExportOutcome = m.value;
      void wrong;
      return m.value.epochs;
    };
    expectTypeOf(onMessage).parameter(0).toEqualTypeOf<FromWorker<TrainJob>>();
    expectTypeOf<Parameters<Parameters<WorkerHandle<ExportJob>['onMessage']>[0]>[0]>().toEqualTypeOf<FromWorker<ExportJob>>();
  });
});
