// The worker as an Electron utilityProcess (a Node process Electron manages; no window, no
// renderer privileges). Same WorkerHandle as the Node fork in worker/spawn.ts.
import { utilityProcess } from 'electron';
import type { FromWorker, Job } from '../app/worker/protocol';
import { ENGINE_NODE_FLAGS } from '../../ml/node-flags';
import type { Spawner, WorkerHandle } from '../app/worker/spawn';

export function electronSpawner(entry: string, env: NodeJS.ProcessEnv = process.env): Spawner {
  return <J extends Job>(): WorkerHandle<J> => {
    const child = utilityProcess.fork(entry, [], { serviceName: 'AlexNet Studio worker', stdio: 'inherit', env: { ...env }, execArgv: [...ENGINE_NODE_FLAGS] });
    let exited = false;
    let spawned = false;
    const queue: unknown[] = []; // messages posted before the process is up
    child.once('spawn', () => {
      spawned = true;
      for (const m of queue.splice(0)) child.postMessage(m);
    });
    const exitCbs: ((code: number | null, signal: string | null) => void)[] = [];
    child.on('exit', (code) => {
      exited = true;
      // utilityProcess reports no signal: a kill shows as a non-zero code
      for (const cb of exitCbs) cb(code, null);
    });
    return {
      get pid() {
        return child.pid;
      },
      send: (msg) => {
        if (exited) return;
        if (spawned) child.postMessage(msg);
        else queue.push(msg);
      },
      onMessage: (cb) => child.on('message', (m: unknown) => cb(m as FromWorker<J>)),
      onExit: (cb) => exitCbs.push(cb),
      kill: () => {
        if (!exited) child.kill();
      },
    };
  };
}
