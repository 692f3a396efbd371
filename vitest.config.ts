import { defineConfig } from 'vitest/config';

// Tests run in child processes (not worker threads): native addons (better-sqlite3, tfjs-node)
// and TF.js's global engine are process-wide, so each test file gets its own process.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/closing-line-reporter.ts'],
  },
});
