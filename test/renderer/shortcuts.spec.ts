// Shortcuts: keys map to actions per screen; typing in a text field or an open dialog turns them
// off; non-text inputs (checkbox, range) do not.
import { describe, expect, it } from 'vitest';
import { SHORTCUTS, isTyping, resolveShortcut, type KeyLike } from '../../renderer/src/lib/shortcuts';

const key = (k: string, o: Partial<KeyLike> = {}): KeyLike => ({ key: k, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, target: null, ...o });
const el = (tagName: string, extra: Record<string, unknown> = {}) => ({ tagName, ...extra }) as unknown as EventTarget;

describe('shortcuts', () => {
  it('maps keys to actions', () => {
    expect(resolveShortcut(key('3'), 'labeling', false)?.action).toBe('label');
    expect(resolveShortcut(key('z', { ctrlKey: true }), 'library', false)?.action).toBe('undo');
    expect(resolveShortcut(key('Z', { metaKey: true, shiftKey: true }), 'library', false)?.action).toBe('redo');
    expect(resolveShortcut(key('a', { ctrlKey: true }), 'library', false)?.action).toBe('select-all');
    expect(resolveShortcut(key('ArrowRight', { shiftKey: true }), 'library', false)?.action).toBe('extend-right');
    expect(resolveShortcut(key('ArrowRight'), 'library', false)?.action).toBe('move-right');
    expect(resolveShortcut(key('?', { shiftKey: true }), 'train', false)?.action).toBe('show-help');
  });

  it('photo shortcuts apply only on the photo screens', () => {
    expect(resolveShortcut(key('1'), 'train', false)).toBeNull();
    expect(resolveShortcut(key('a'), 'library', false)).toBeNull(); // accept is a labeling key
    expect(resolveShortcut(key('a'), 'labeling', false)?.action).toBe('accept-suggestion');
  });

  it('is off while typing in a field or with a dialog open', () => {
    expect(resolveShortcut(key('1', { target: el('INPUT', { type: 'text' }) }), 'labeling', false)).toBeNull();
    expect(resolveShortcut(key('z', { ctrlKey: true, target: el('TEXTAREA') }), 'labeling', false)).toBeNull();
    expect(resolveShortcut(key('?', { target: el('DIV', { isContentEditable: true }) }), 'labeling', false)).toBeNull();
    expect(resolveShortcut(key('1', { target: el('SELECT') }), 'labeling', false)).toBeNull();
    expect(resolveShortcut(key('1'), 'labeling', true)).toBeNull();
    // a checkbox or slider with focus does not swallow the hotkeys
    expect(resolveShortcut(key('1', { target: el('INPUT', { type: 'checkbox' }) }), 'labeling', false)?.action).toBe('label');
    expect(resolveShortcut(key('2', { target: el('INPUT', { type: 'range' }) }), 'library', false)?.action).toBe('label');
    expect(isTyping(el('BUTTON'))).toBe(false);
    expect(isTyping(el('input'))).toBe(true); // an input without a type is text
  });

  it('leaves Enter/Space to buttons and links, and arrows to sliders', () => {
    expect(resolveShortcut(key('Enter', { target: el('BUTTON') }), 'library', false)).toBeNull();
    expect(resolveShortcut(key(' ', { target: el('A') }), 'library', false)).toBeNull();
    expect(resolveShortcut(key('ArrowLeft', { target: el('INPUT', { type: 'range' }) }), 'library', false)).toBeNull();
    // on the grid itself they are the app's
    expect(resolveShortcut(key('Enter', { target: el('DIV') }), 'library', false)?.action).toBe('open-preview');
    expect(resolveShortcut(key('ArrowLeft', { target: el('DIV') }), 'library', false)?.action).toBe('move-left');
    expect(resolveShortcut(key('1', { target: el('BUTTON') }), 'library', false)?.action).toBe('label');
  });

  it('every shortcut has keys and a description for the help', () => {
    for (const s of SHORTCUTS) {
      expect(s.keys.length).toBeGreaterThan(0);
      expect(s.description.length).toBeGreaterThan(3);
    }
  });
});
