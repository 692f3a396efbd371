// Browser mode's entry (npm run serve): opens the library, starts the HTTP server on 127.0.0.1 and
// prints one line, the address with its token. Options: --db <file> (default $ALEXNET_DB, else the
// data folder's), --data <folder> (runs, caches, weights; default $ALEXNET_HOME or the OS's app data
// folder, or the --db file's folder), --port <n> (default a free one), --static <folder>.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DATA_DIR_MODE, openLibrary, type Library } from '../../db/index';
import { defaultDataDir, defaultDbFile } from '../../db/paths';
import { createContext, probeBackend, type AppContext } from '../app/context';
import { consoleLog } from '../app/log';
import { createHandlers } from '../app/handlers/index';
import { startServer } from './server';
import type { Log } from '../app/log';
import { nodeSpawner } from '../app/worker/spawn';

export type BrowserMode = { url: string; ctx: AppContext; close: () => Promise<void> };

/** Browser mode on an open library: the services with Node worker processes, served on 127.0.0.1.
 *  `close` stops the server and the training host; the library stays the caller's to close. */
export async function startBrowserMode(o: { lib: Library; dataDir: string; port?: number; staticDir?: string; log?: Log }): Promise<BrowserMode> {
  const ctx = createContext({ lib: o.lib, dataDir: o.dataDir, mode: 'browser', spawn: nodeSpawner(), log: o.log ?? consoleLog });
  const server = await startServer({ ctx, handlers: createHandlers(ctx), port: o.port ?? 0, staticDir: o.staticDir });
  return {
    url: server.url,
    ctx,
    close: async () => {
      await server.close();
      await ctx.training.dispose();
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { db: { type: 'string' }, data: { type: 'string' }, port: { type: 'string' }, static: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: npm run serve -- [--db <file>] [--data <folder>] [--port <n>] [--static <folder>]\n');
    return 0;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, got ${values.port}`);
  const dbFile = defaultDbFile(values.db);
  const dataDir = path.resolve(values.data ?? (values.db || process.env.ALEXNET_DB ? path.dirname(dbFile) : defaultDataDir()));
  fs.mkdirSync(dataDir, { recursive: true, mode: DATA_DIR_MODE }); // the data folder is the user's alone
  const lib = openLibrary(dbFile);
  const log = consoleLog;
  if (lib.recoveredRuns.length) log('warn', `runs ${lib.recoveredRuns.join(', ')} were left running by a process that stopped; marked interrupted`);
  const app = await startBrowserMode({ lib, dataDir, port, staticDir: values.static ? path.resolve(values.static) : undefined, log });
  process.stdout.write(app.url + '\n');
  void probeBackend(app.ctx); // the window shows the backend before the first run
  const stop = async () => {
    await app.close();
    lib.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  return -1; // keeps running
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(fileURLToPath(import.meta.url))) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: unknown) => {
      process.stderr.write(`alexnet serve: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
