// The renderer's unit tests (test/renderer): the state managers are *.svelte.ts classes with runes,
// so they go through the Svelte compiler (browser build, where $state/$derived are reactive).
// Run: npx vitest run --config renderer/vitest.config.ts
import { svelte } from '@sveltejs/vite-plugin-svelte';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export default defineConfig({
  root,
  plugins: [svelte({ configFile: path.join(root, 'renderer/svelte.config.js') })],
  resolve: { conditions: ['browser'] }, // Svelte's client runtime: runes react outside components too
  test: {
    name: 'renderer',
    root, // also when loaded as a project of the root config (whose projects default to their own folder)
    include: ['test/renderer/**/*.spec.ts'], // .spec: the root config's test/**/*.test.ts (no Svelte plugin) leaves them alone
    environment: 'node',
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
