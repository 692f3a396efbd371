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
  },
});
