import { defineConfig } from 'vitest/config';

// `npm test` runs three projects in one run with one summary:
//  - node: everything under test/ except the renderer's and the end-to-end tests. Test files run in
//    child processes (not worker threads): native addons (better-sqlite3, tfjs-node) and TF.js's
//    global engine are process-wide, so each file gets its own process.
//  - renderer: the Svelte state managers (renderer/vitest.config.ts, with the Svelte compiler).
//  - e2e: the built renderer in Chromium (test/helpers/browser.ts) against the real browser-mode server
//    (test/e2e/vitest.config.ts; builds the renderer first).
export default defineConfig({
  test: {
    reporters: ['default', './test/closing-line-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', 'test/renderer/**', 'node_modules/**'],
          pool: 'forks',
          maxWorkers: 2,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      './renderer/vitest.config.ts',
      './test/e2e/vitest.config.ts',
    ],
  },
});
