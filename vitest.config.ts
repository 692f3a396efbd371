import { defineConfig } from 'vitest/config';
import { findVulkanDriver, vulkanEnv } from './test/helpers/vulkan.ts';

// `npm test` runs three projects in one run with one summary:
//  - node: everything under test/ except the renderer's and the end-to-end tests. Test files run in
//    child processes (not worker threads): native addons (better-sqlite3, tfjs-node) and TF.js's
//    global engine are process-wide, so each file gets its own process.
//  - renderer: the Svelte state managers (renderer/vitest.config.ts, with the Svelte compiler).
//  - e2e: the built renderer in Chromium (test/helpers/browser.ts) against the real browser-mode server
//    (test/e2e/vitest.config.ts; builds the renderer first).
//  - webgpu: the engine on the webgpu backend (test/ml/webgpu/, and `*.webgpu.test.ts` elsewhere,
//    such as the app's training worker on webgpu). Its processes get a Vulkan driver
//    in their environment (SwiftShader from @sparticuz/chromium, test/helpers/vulkan.ts: the dynamic
//    linker reads LD_LIBRARY_PATH only at process start); required where CI=true, skipped with the
//    reason elsewhere when no adapter exists.
export default defineConfig({
  test: {
    reporters: ['default', './test/closing-line-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', 'test/renderer/**', 'test/ml/webgpu/**', 'test/**/*.webgpu.test.ts', 'node_modules/**'],
          pool: 'forks',
          maxWorkers: 2,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'webgpu',
          include: ['test/ml/webgpu/**/*.test.ts', 'test/**/*.webgpu.test.ts'],
          pool: 'forks',
          maxWorkers: 1, // SwiftShader computes on every core
          testTimeout: 180_000,
          hookTimeout: 180_000,
          env: vulkanEnv(findVulkanDriver()),
        },
      },
      './renderer/vitest.config.ts',
      './test/e2e/vitest.config.ts',
    ],
  },
});
