// The application menu as data (Electron builds it in index.ts): File, Edit, View, Help. Items
// that act on the page send it a 'menu:command' event; the rest are handled here.
import type { MenuItemConstructorOptions } from 'electron';
import type { MenuCommand } from '../../preload/contract';

export type MenuActions = {
  command(c: MenuCommand): void; // forwarded to the page
  importFolder(): void; // shows a folder dialog, then forwards 'import-folder' with it
  openLibrary(): void;
  openDataFolder(): void;
  openLogs(): void;
  about(): void;
  dev: boolean; // reload and developer tools only in development
  isMac: boolean;
};

export function menuTemplate(a: MenuActions): MenuItemConstructorOptions[] {
  const file: MenuItemConstructorOptions = {
    label: '&File',
    submenu: [
      { label: 'Import Folder…', accelerator: 'CmdOrCtrl+O', click: () => a.importFolder() },
      { label: 'Open Library…', accelerator: 'CmdOrCtrl+Shift+O', click: () => a.openLibrary() },
      { type: 'separator' },
      a.isMac ? { role: 'close' } : { role: 'quit' },
    ],
  };
  const edit: MenuItemConstructorOptions = {
    label: '&Edit',
    submenu: [
      // labeling undo is the page's (it knows the dataset); no accelerator here so that
      // ctrl+Z still reaches text fields and the page's own shortcut handler
      { label: 'Undo Labeling', click: () => a.command('undo') },
      { label: 'Redo Labeling', click: () => a.command('redo') },
      { type: 'separator' },
      { role: 'undo' },
      { role: 'redo' },
      { type: 'separator' },
      { role: 'cut' },
      { role: 'copy' },
      { role: 'paste' },
      { role: 'selectAll' },
    ],
  };
  const view: MenuItemConstructorOptions = {
    label: '&View',
    submenu: [
      { label: 'Keyboard Shortcuts', accelerator: 'Shift+/', registerAccelerator: false, click: () => a.command('show-shortcuts') },
      { type: 'separator' },
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
      ...(a.dev ? ([{ type: 'separator' }, { role: 'reload' }, { role: 'toggleDevTools' }] as MenuItemConstructorOptions[]) : []),
    ],
  };
  const help: MenuItemConstructorOptions = {
    role: 'help',
    label: '&Help',
    submenu: [
      { label: 'About AlexNet Studio', click: () => a.about() },
      { label: 'Open Data Folder', click: () => a.openDataFolder() },
      { label: 'Open Logs', click: () => a.openLogs() },
    ],
  };
  const app: MenuItemConstructorOptions[] = a.isMac ? [{ role: 'appMenu' }] : [];
  return [...app, file, edit, view, help];
}
