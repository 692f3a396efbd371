#!/usr/bin/env node
// npm run serve: browser mode. Loads the TypeScript sources through tsx (no build step) and runs
// main/server/serve.ts, which prints one line: http://127.0.0.1:PORT/?token=...
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../main/server/serve.ts');
try {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exit(code);
} catch (err) {
  process.stderr.write(`alexnet serve: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
