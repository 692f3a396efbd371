// The Electron main process: lifecycle only. One instance (a second launch focuses the first
// window), the library opened with the Electron build of better-sqlite3, the handlers registered
// for IPC with the sender check, events forwarded to the window, photos served as app-img://, the
// worker started as a utilityProcess. All logic lives in plain modules (handlers/, server.ts,
// training-host.ts) that the Node tests exercise.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserWindow, Menu, app, dialog, ipcMain, shell } from 'electron';
import { DATA_DIR_MODE, openLibrary, type Library } from '../../db/index';
import { defaultDataDir, defaultDbFile } from '../../db/paths';
import { dataPaths, createContext, probeBackend, type AppContext, type PickKind } from '../app/context';
import { electronSpawner } from './spawn';
import { createHandlers } from '../app/handlers/index';
import { forwardEvents, registerIpc, trustedPage } from './ipc';
import { menuTemplate } from './menu';
import { handleImageScheme, registerImageScheme } from './protocol';
import type { Log } from '../app/log';
import { devServerUrl } from './security';
import { createMainWindow, hardenSession } from './window';

// Bundled layout (scripts/build-app.mjs): dist/electron/{main.mjs, preload.cjs, worker.mjs, migrations/}
// next to renderer/dist/ and build/electron-native/ (packaged: resources/native/).
const here = path.dirname(fileURLToPath(import.meta.url));
const appRoot = path.resolve(here, '..', '..');
const rendererDir = path.join(appRoot, 'renderer', 'dist');
const devUrl = devServerUrl(process.env, app.isPackaged); // the renderer's vite dev server, in development only
const dev = !app.isPackaged;

function nativeBinding(): string | undefined {
  const file = app.isPackaged ? path.join(process.resourcesPath, 'native', 'better_sqlite3.node') : path.join(appRoot, 'build', 'electron-native', 'better_sqlite3.node');
  return fs.existsSync(file) ? file : undefined;
}

function argValue(name: string): string | undefined {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : undefined;
}

registerImageScheme(); // before 'ready'

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  let win: BrowserWindow | null = null;
  let ctx: AppContext | null = null;
  let lib: Library | null = null;

  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });

  app.whenReady().then(() => {
    const dbFile = defaultDbFile(argValue('db'));
    const dataDir = process.env.ALEXNET_HOME || !argValue('db') ? defaultDataDir() : path.dirname(dbFile);
    fs.mkdirSync(dataPaths({ dataDir }).logs, { recursive: true, mode: DATA_DIR_MODE }); // the data folder is the user's alone
    const logFile = path.join(dataPaths({ dataDir }).logs, 'main.log');
    const log: Log = (level, message, err) => {
      const line = `[${new Date().toISOString()}] ${level} ${message}${err instanceof Error ? `\n${err.stack}` : err ? ` ${String(err)}` : ''}\n`;
      fs.appendFileSync(logFile, line);
      if (dev) process.stderr.write(line);
    };
    try {
      lib = openLibrary(dbFile, { nativeBinding: nativeBinding() });
    } catch (err) {
      dialog.showErrorBox('AlexNet Studio cannot open its library', (err as Error).message);
      app.exit(1);
      return;
    }
    const openLib = lib;
    const pick = async (kind: PickKind, title: string | undefined): Promise<string[]> => {
      const props: ('openDirectory' | 'openFile' | 'multiSelections' | 'createDirectory')[] = kind === 'files' ? ['openFile', 'multiSelections'] : ['openDirectory', 'createDirectory'];
      const r = win ? await dialog.showOpenDialog(win, { title, properties: props }) : await dialog.showOpenDialog({ title, properties: props });
      return r.canceled ? [] : r.filePaths;
    };
    ctx = createContext({ lib: openLib, dataDir, mode: 'electron', spawn: electronSpawner(path.join(here, 'worker.mjs')), log, pick, version: app.getVersion() });
    const appCtx = ctx;
    const isTrusted = trustedPage(rendererDir, devUrl);
    hardenSession();
    handleImageScheme(() => openLib);
    registerIpc(ipcMain, createHandlers(appCtx), isTrusted, log);
    forwardEvents(appCtx.bus, () => win?.webContents ?? null);

    Menu.setApplicationMenu(
      Menu.buildFromTemplate(
        menuTemplate({
          dev,
          isMac: process.platform === 'darwin',
          command: (command) => appCtx.bus.emit('menu:command', { command }),
          importFolder: () => {
            void pick('folder', 'Import a folder of photos').then(([folder]) => {
              if (folder) appCtx.bus.emit('menu:command', { command: 'import-folder', folder });
            });
          },
          openLibrary: () => {
            void dialog.showOpenDialog({ title: 'Open a library', properties: ['openFile'], filters: [{ name: 'AlexNet Studio library', extensions: ['sqlite', 'db'] }] }).then((r) => {
              if (r.canceled || !r.filePaths[0]) return;
              app.relaunch({ args: [...process.argv.slice(1).filter((a) => !a.startsWith('--db=')), `--db=${r.filePaths[0]}`] });
              app.quit();
            });
          },
          openDataFolder: () => void shell.openPath(dataDir),
          openLogs: () => void shell.openPath(dataPaths({ dataDir }).logs),
          about: () => {
            const b = appCtx.backend;
            void dialog.showMessageBox({
              type: 'info',
              title: 'About AlexNet Studio',
              message: `AlexNet Studio ${app.getVersion()}`,
              detail: `Electron ${process.versions.electron}, Node ${process.versions.node}\nCompute backend: ${b ? `${b.name} (${b.threads} threads)` : 'not started yet'}\nLibrary: ${dbFile}`,
            });
          },
        }),
      ),
    );

    win = createMainWindow({ preload: path.join(here, 'preload.cjs'), indexHtml: path.join(rendererDir, 'index.html'), devUrl, isTrusted, icon: path.join(appRoot, 'resources', 'icon.png') });
    win.on('closed', () => (win = null));
    void probeBackend(appCtx); // the window shows the backend before the first run
  });

  app.on('window-all-closed', () => app.quit());

  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting || !ctx) return;
    event.preventDefault();
    quitting = true;
    const c = ctx;
    void c.training.dispose().finally(() => {
      lib?.close();
      app.quit();
    });
  });
}
