// Browser mode's entry (npm run serve): opens the library, starts the HTTP server on 127.0.0.1 and
// prints one line, the address with its token. Options: --db <file> (default $ALEXNET_DB, else the
// data folder's), --data <folder> (runs, caches, weights; default $ALEXNET_HOME or the OS's app data
// folder, or the --db file's folder), --port <n> (default a free one), --static <folder>.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DATA_DIR_MODE, openLibrary } from '../db/index';
import { defaultDataDir, defaultDbFile } from '../db/paths';
import { consoleLog, createContext, probeBackend } from './context';
import { createHandlers } from './handlers/index';
import { startServer } from './server';
import { nodeSpawner } from './worker/spawn';

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
  const ctx = createContext({ lib, dataDir, mode: 'browser', spawn: nodeSpawner(), log });
  const server = await startServer({ ctx, handlers: createHandlers(ctx), port, staticDir: values.static ? path.resolve(values.static) : undefined });
  process.stdout.write(server.url + '\n');
  void probeBackend(ctx); // the window shows the backend before the first run
  const stop = async () => {
    await ctx.training.dispose();
    await server.close();
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
