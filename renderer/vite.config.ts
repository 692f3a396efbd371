// Builds the renderer into renderer/dist with relative asset paths (base './'), so the same files
// load from Electron's custom protocol / file:// and from browser mode's HTTP server. No inline
// scripts, no eval: the build passes a strict Content-Security-Policy.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: './', // relative URLs: works from app://, file:// and http://127.0.0.1:PORT/
  plugins: [svelte({ configFile: path.join(here, 'svelte.config.js') })],
  build: {
    outDir: path.join(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022', // Electron 39's Chromium and any current browser
    sourcemap: true,
    modulePreload: { polyfill: false }, // Chromium has modulepreload; the polyfill is an inline-able snippet we don't need
    assetsInlineLimit: 0, // no data: URLs for assets (CSP img-src stays simple)
    chunkSizeWarningLimit: 800,
  },
  server: { port: 5173, strictPort: false },
});
