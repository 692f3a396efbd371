// The Electron shell's rules that do not need Electron to check: the dev server is trusted only in
// an unpacked app and only on this machine, links open only on a few known https sites, the
// packaged binary's fuses are set, and the data folder is created for its owner alone.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { openLibrary } from '../../../db/index';
import { devServerUrl, externalAllowed } from '../../../main/electron/security';
import { repoRoot, tempDir } from '../../helpers/app';

it('ALEXNET_DEV_URL counts only in an unpacked app, and only for a local dev server', () => {
  expect(devServerUrl({ ALEXNET_DEV_URL: 'http://localhost:5173/' }, false)).toBe('http://localhost:5173/');
  expect(devServerUrl({ ALEXNET_DEV_URL: 'http://localhost:5173/' }, true)).toBeNull();
  expect(devServerUrl({ ALEXNET_DEV_URL: 'https://evil.example/' }, false)).toBeNull();
  expect(devServerUrl({ ALEXNET_DEV_URL: 'http://127.0.0.1.evil.example/' }, false)).toBeNull();
  expect(devServerUrl({}, false)).toBeNull();
});

it('opens only allow-listed https sites in the browser', () => {
  expect(externalAllowed('https://huggingface.co/onnxmodelzoo')).toBe(true);
  expect(externalAllowed('https://github.com/x/y')).toBe(true);
  for (const bad of ['https://evil.example/', 'http://github.com/', 'https://github.com.evil.example/', 'https://user@github.com/', 'https://github.com:8443/', 'file:///etc/passwd', 'javascript:alert(1)', 'not a url']) {
    expect(externalAllowed(bad), bad).toBe(false);
  }
});

it('electron-builder sets the fuses', () => {
  const yml = fs.readFileSync(path.join(repoRoot, 'electron-builder.yml'), 'utf8');
  const block = /^electronFuses:\n((?: {2}.*\n)+)/m.exec(yml)?.[1] ?? '';
  const fuses = Object.fromEntries(block.trim().split('\n').map((l) => l.trim().split(/:\s*/)));
  expect(fuses).toMatchObject({ runAsNode: 'false', enableNodeOptionsEnvironmentVariable: 'false', enableNodeCliInspectArguments: 'false', enableCookieEncryption: 'true', enableEmbeddedAsarIntegrityValidation: 'true', onlyLoadAppFromAsar: 'true' });
});

it('creates the data folder for its owner alone', () => {
  const root = tempDir('alexnet-mode-');
  const old = process.umask(0o022);
  try {
    openLibrary(path.join(root, 'data', 'library.sqlite')).close();
  } finally {
    process.umask(old);
  }
  expect(fs.statSync(path.join(root, 'data')).mode & 0o777).toBe(0o700);
  fs.rmSync(root, { recursive: true, force: true });
});

it("no module turns its own URL into a path by hand (breaks on spaces and on Windows' /C:/)", () => {
  const offenders: string[] = [];
  for (const top of ['main', 'db', 'ml', 'preload', 'scripts', 'bin']) {
    const dir = path.join(repoRoot, top);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      if (!/\.(ts|mjs|js)$/.test(f)) continue;
      if (/import\.meta\.url\)\.pathname/.test(fs.readFileSync(path.join(dir, f), 'utf8'))) offenders.push(`${top}/${f}`);
    }
  }
  expect(offenders).toEqual([]);
});
