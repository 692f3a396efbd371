// How a worker process is started, abstracted: under Node (tests, browser mode) a child_process.fork
// of the TypeScript entry with tsx's loader; under Electron a utilityProcess of the bundled entry
// (main/electron/spawn.ts, which alone imports electron). The host only sees a WorkerHandle.
import { fork } from 'node:child_process';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ENGINE_NODE_FLAGS } from '../../../ml/node-flags';
import type { FromWorker, Job, ToWorker } from './protocol';

/** A worker started for one job of type J: its messages are typed by J ('result' carries Outcome<J>).
 *  The process channel carries plain JSON, so the spawner states that type where messages arrive:
 *  entry.ts sends exactly one job's messages, and the worker's runners are typed by Outcomes. */
export type WorkerHandle<J extends Job = Job> = {
  readonly pid: number | undefined;
  send(msg: ToWorker<J>): void;
  onMessage(cb: (msg: FromWorker<J>) => void): void;
  onExit(cb: (code: number | null, signal: string | null) => void): void;
  kill(signal?: NodeJS.Signals): void;
};

export type Spawner = <J extends Job>() => WorkerHandle<J>;

export const WORKER_ENTRY_TS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'entry.ts');

// tsx's loader as an absolute URL: a bare `--import tsx` resolves from the current directory, which
// is the user's (bin/alexnet runs anywhere), not the app's.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href;

/** Forks `entry` (default the TypeScript entry, run through tsx) as a Node child process. */
export function nodeSpawner(opts: { entry?: string; env?: NodeJS.ProcessEnv } = {}): Spawner {
  const entry = opts.entry ?? WORKER_ENTRY_TS;
  return <J extends Job>(): WorkerHandle<J> => {
    const child = fork(entry, [], {
      execArgv: [...ENGINE_NODE_FLAGS, ...(entry.endsWith('.ts') ? ['--import', TSX_LOADER] : [])],
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    let exited = false;
    const exitCbs: ((code: number | null, signal: string | null) => void)[] = [];
    child.on('exit', (code, signal) => {
      exited = true;
      for (const cb of exitCbs) cb(code, signal);
    });
    child.on('error', () => {
      // a failed spawn also emits 'exit'; a failed send is reported by the exit too
    });
    return {
      pid: child.pid,
      send: (msg) => {
        if (!exited && child.connected) child.send(msg);
      },
      onMessage: (cb) => child.on('message', (m) => cb(m as FromWorker<J>)),
      onExit: (cb) => exitCbs.push(cb),
      kill: (signal = 'SIGTERM') => {
        if (!exited) child.kill(signal);
      },
    };
  };
}
