// The end-to-end suite (test/e2e/*.e2e.ts): the built renderer in Chromium (test/helpers/browser.ts) against the real
// browser-mode server. One file at a time, one process; the steps of a file share one server.
// Run: npm run test:e2e (globalSetup builds the renderer first); `npm test` runs it as a project.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'),
  test: {
    name: 'e2e',
    root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'),
    include: ['test/e2e/**/*.e2e.ts'],
    globalSetup: ['test/e2e/build-renderer.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // expect.poll waits for what the page shows; on a loaded 2-core CI machine an answer (a query,
    // a re-render) can take seconds, so a poll gives up only after 15 s (vitest's default is 1 s)
    expect: { poll: { timeout: 15_000 } },
  },
});
