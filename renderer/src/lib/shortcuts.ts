// Keyboard shortcuts as data: each has keys (as the help overlay shows them), where it applies, and
// an action name the app maps to a function. Keys typed into a field, or while a dialog is open,
// never trigger a shortcut (except Escape, which closes the dialog).

export type Screen = 'library' | 'labeling' | 'train' | 'runs' | 'classify';
export type Action =
  | 'label' // 1-9: label the selection / focused photo with that class
  | 'clear-label'
  | 'undo'
  | 'redo'
  | 'select-all'
  | 'deselect'
  | 'move-left'
  | 'move-right'
  | 'move-up'
  | 'move-down'
  | 'extend-left'
  | 'extend-right'
  | 'extend-up'
  | 'extend-down'
  | 'open-preview'
  | 'accept-suggestion'
  | 'show-help'
  | 'goto-library'
  | 'goto-labeling'
  | 'goto-train'
  | 'goto-runs'
  | 'goto-classify';

export type Shortcut = {
  action: Action;
  keys: string; // what the help shows: "Ctrl+Z", "1-9", "Shift+Arrow"
  description: string;
  match: (e: KeyLike) => boolean;
  screens?: Screen[]; // where it applies; every screen when absent
};

/** The part of a KeyboardEvent shortcuts look at (tests build these by hand). */
export type KeyLike = { key: string; ctrlKey: boolean; metaKey: boolean; shiftKey: boolean; altKey: boolean; target?: EventTarget | null };

const mod = (e: KeyLike) => e.ctrlKey || e.metaKey; // ctrl on Linux/Windows, cmd on macOS
const plain = (e: KeyLike) => !e.ctrlKey && !e.metaKey && !e.altKey;
const photos: Screen[] = ['library', 'labeling'];

export const SHORTCUTS: Shortcut[] = [
  { action: 'label', keys: '1-9', description: 'Label the selected photos with that class', match: (e) => plain(e) && /^[1-9]$/.test(e.key), screens: photos },
  { action: 'clear-label', keys: '0', description: 'Remove the label of the selected photos', match: (e) => plain(e) && e.key === '0', screens: photos },
  { action: 'undo', keys: 'Ctrl+Z', description: 'Undo the last labeling action', match: (e) => mod(e) && !e.shiftKey && e.key.toLowerCase() === 'z' },
  { action: 'redo', keys: 'Ctrl+Shift+Z', description: 'Redo', match: (e) => mod(e) && ((e.shiftKey && e.key.toLowerCase() === 'z') || e.key.toLowerCase() === 'y') },
  { action: 'select-all', keys: 'Ctrl+A', description: 'Select every photo shown', match: (e) => mod(e) && !e.shiftKey && e.key.toLowerCase() === 'a', screens: photos },
  { action: 'deselect', keys: 'Escape', description: 'Clear the selection', match: (e) => plain(e) && e.key === 'Escape', screens: photos },
  { action: 'extend-left', keys: 'Shift+←', description: 'Extend the selection', match: (e) => plain(e) && e.shiftKey && e.key === 'ArrowLeft', screens: photos },
  { action: 'extend-right', keys: 'Shift+→', description: 'Extend the selection', match: (e) => plain(e) && e.shiftKey && e.key === 'ArrowRight', screens: photos },
  { action: 'extend-up', keys: 'Shift+↑', description: 'Extend the selection', match: (e) => plain(e) && e.shiftKey && e.key === 'ArrowUp', screens: photos },
  { action: 'extend-down', keys: 'Shift+↓', description: 'Extend the selection', match: (e) => plain(e) && e.shiftKey && e.key === 'ArrowDown', screens: photos },
  { action: 'move-left', keys: '←', description: 'Previous photo', match: (e) => plain(e) && !e.shiftKey && e.key === 'ArrowLeft', screens: photos },
  { action: 'move-right', keys: '→', description: 'Next photo', match: (e) => plain(e) && !e.shiftKey && e.key === 'ArrowRight', screens: photos },
  { action: 'move-up', keys: '↑', description: 'Photo above', match: (e) => plain(e) && !e.shiftKey && e.key === 'ArrowUp', screens: photos },
  { action: 'move-down', keys: '↓', description: 'Photo below', match: (e) => plain(e) && !e.shiftKey && e.key === 'ArrowDown', screens: photos },
  { action: 'open-preview', keys: 'Enter / Space', description: 'Open the large preview', match: (e) => plain(e) && (e.key === 'Enter' || e.key === ' '), screens: photos },
  { action: 'accept-suggestion', keys: 'A', description: 'Accept the focused suggestion', match: (e) => plain(e) && !e.shiftKey && e.key === 'a', screens: ['labeling'] },
  { action: 'show-help', keys: '?', description: 'Show these shortcuts', match: (e) => !e.ctrlKey && !e.metaKey && e.key === '?' },
  { action: 'goto-library', keys: 'Alt+1', description: 'Library', match: (e) => e.altKey && e.key === '1' },
  { action: 'goto-labeling', keys: 'Alt+2', description: 'Labeling', match: (e) => e.altKey && e.key === '2' },
  { action: 'goto-train', keys: 'Alt+3', description: 'Train', match: (e) => e.altKey && e.key === '3' },
  { action: 'goto-runs', keys: 'Alt+4', description: 'Runs', match: (e) => e.altKey && e.key === '4' },
  { action: 'goto-classify', keys: 'Alt+5', description: 'Classify', match: (e) => e.altKey && e.key === '5' },
];

type ElementLike = { tagName?: string; isContentEditable?: boolean; type?: string; closest?: (sel: string) => unknown };

/** True when the key goes into a field: inputs that take text, textareas, selects, editable text. */
export function isTyping(target: EventTarget | null | undefined): boolean {
  const el = target as ElementLike | null | undefined;
  if (!el || typeof el.tagName !== 'string') return false;
  const tag = el.tagName.toUpperCase();
  if (tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable) return true;
  if (tag !== 'INPUT') return false;
  const nonText = ['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'];
  return !nonText.includes((el.type ?? 'text').toLowerCase());
}

/** True when the focused control has its own use for the key: Enter/Space press a button, link,
 *  checkbox or summary; arrows move a slider or a radio group. The app leaves those keys alone. */
export function controlOwnsKey(target: EventTarget | null | undefined, key: string): boolean {
  const el = target as (ElementLike & { getAttribute?: (n: string) => string | null }) | null | undefined;
  if (!el || typeof el.tagName !== 'string') return false;
  const tag = el.tagName.toUpperCase();
  const type = (el.type ?? '').toLowerCase();
  const role = el.getAttribute?.('role') ?? '';
  if (key === 'Enter' || key === ' ') {
    return tag === 'BUTTON' || tag === 'A' || tag === 'SUMMARY' || (tag === 'INPUT' && ['checkbox', 'radio', 'button', 'submit', 'reset', 'file', 'color'].includes(type)) || ['button', 'tab', 'link', 'checkbox'].includes(role);
  }
  if (key.startsWith('Arrow')) return tag === 'INPUT' && (type === 'range' || type === 'radio');
  return false;
}

/** The shortcut `e` triggers on `screen`, or null (typing in a field, a dialog open, no match). */
export function resolveShortcut(e: KeyLike, screen: Screen, modalOpen: boolean, list: Shortcut[] = SHORTCUTS): Shortcut | null {
  if (modalOpen || isTyping(e.target) || controlOwnsKey(e.target, e.key)) return null;
  for (const s of list) {
    if (s.screens && !s.screens.includes(screen)) continue;
    if (s.match(e)) return s;
  }
  return null;
}
