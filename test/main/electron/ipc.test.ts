// The Electron side that runs without Electron: the IPC sender check (fake events whose frame URL
// is ours or foreign), the window's security settings, the menu's items.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../../main/app/handlers/index';
import { makeInvokeHandler, trustedPage } from '../../../main/electron/ipc';
import { menuTemplate, type MenuActions } from '../../../main/electron/menu';
import { ELECTRON_CSP, webPreferences } from '../../../main/electron/security';
import type { MenuCommand } from '../../../preload/contract';
import { harness, type Harness } from '../../helpers/app';

const dist = path.resolve('/opt/alexnet/renderer/dist');
const ours = pathToFileURL(path.join(dist, 'index.html')).href;
let h: Harness;

beforeAll(() => {
  h = harness();
});
afterAll(() => h.close());

describe('sender check', () => {
  const trusted = trustedPage(dist, 'http://localhost:5173');

  it('trusts our page (and the dev server) only', () => {
    expect(trusted(ours)).toBe(true);
    expect(trusted(`${ours}?token=1#/runs`)).toBe(true);
    expect(trusted('http://localhost:5173/')).toBe(true);
    for (const url of [
      'https://evil.example/',
      'http://localhost:5174/',
      'http://127.0.0.1:5173/', // another origin than the dev server's
      pathToFileURL('/tmp/evil.html').href,
      pathToFileURL(path.join(dist, '..', 'evil.html')).href,
      pathToFileURL(dist + '-evil/index.html').href,
      'file://remote-host' + path.join(dist, 'index.html'),
      'data:text/html,<script>1</script>',
      'about:blank',
      '',
      'not a url',
    ]) {
      expect(trusted(url), url).toBe(false);
    }
    expect(trustedPage(dist)('http://localhost:5173/')).toBe(false); // no dev server in production
  });

  it('handles a call from our frame and refuses one from a foreign frame, changing nothing', async () => {
    const invoke = makeInvokeHandler(createHandlers(h.ctx), trustedPage(dist));
    const okReply = await invoke({ senderFrame: { url: ours } }, 'datasets:create', { name: 'from our window' });
    expect(okReply.ok).toBe(true);
    for (const frame of [{ url: 'https://evil.example/' }, { url: pathToFileURL('/tmp/x.html').href }, null]) {
      const r = await invoke({ senderFrame: frame }, 'datasets:create', { name: 'from elsewhere' });
      expect(r).toEqual({ ok: false, error: { code: 'FORBIDDEN', message: "calls are accepted only from the app's own window" } });
    }
    expect((await h.ok('datasets:list', {})).map((d) => d.name)).toEqual(['from our window']);
    const bad = await invoke({ senderFrame: { url: ours } }, 'datasets:create', { name: 7 });
    expect(bad.ok ? null : bad.error.code).toBe('BAD_INPUT');
  });
});

describe('window security', () => {
  it('isolates the page: context isolation, sandbox, no Node, web security', () => {
    const p = webPreferences('/x/preload.cjs');
    expect(p).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, nodeIntegrationInSubFrames: false, webSecurity: true, allowRunningInsecureContent: false, webviewTag: false });
    expect(p.preload).toBe('/x/preload.cjs');
  });

  it('has a CSP without remote sources or inline scripts', () => {
    const directives = Object.fromEntries(ELECTRON_CSP.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    expect(directives['default-src']).toEqual(["'self'"]);
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['object-src']).toEqual(["'none'"]);
    expect(directives['img-src']).toContain('app-img:');
    expect(ELECTRON_CSP).not.toMatch(/https?:|\*|unsafe-eval/);
  });
});

describe('menu', () => {
  it('has File, Edit, View and Help with the issue items, wired to their actions', () => {
    const calls: string[] = [];
    const actions: MenuActions = {
      command: (c: MenuCommand) => calls.push(`command:${c}`),
      importFolder: () => calls.push('import'),
      openLibrary: () => calls.push('open'),
      openDataFolder: () => calls.push('data'),
      openLogs: () => calls.push('logs'),
      about: () => calls.push('about'),
      dev: false,
      isMac: false,
    };
    const t = menuTemplate(actions);
    expect(t.map((m) => m.label)).toEqual(['&File', '&Edit', '&View', '&Help']);
    const items = t.flatMap((m) => (Array.isArray(m.submenu) ? m.submenu : []));
    const click = (label: string) => {
      const it = items.find((i) => i.label === label);
      expect(it, label).toBeDefined();
      (it!.click as () => void)();
    };
    for (const l of ['Import Folder…', 'Open Library…', 'Undo Labeling', 'About AlexNet Studio', 'Open Data Folder', 'Open Logs']) click(l);
    expect(calls).toEqual(['import', 'open', 'command:undo', 'about', 'data', 'logs']);
    expect(items.some((i) => i.role === 'toggleDevTools')).toBe(false); // not in production
    expect(menuTemplate({ ...actions, dev: true }).flatMap((m) => (Array.isArray(m.submenu) ? m.submenu : [])).some((i) => i.role === 'toggleDevTools')).toBe(true);
  });
});
