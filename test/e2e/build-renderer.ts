// Global setup of the end-to-end project: builds the renderer (renderer/dist) that browser mode
// serves, so `npm test` on a fresh clone tests the page as it is now, never a stale build.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export default async function setup(): Promise<void> {
  await build({ configFile: path.join(root, 'renderer/vite.config.ts'), logLevel: 'warn' });
}
