// Svelte actions shared by the screens.

/** Focuses a pre-filled field and selects its text once its dialog has opened, so typing replaces it. */
export function selectText(node: HTMLInputElement): void {
  setTimeout(() => {
    node.focus();
    node.select();
  }, 0);
}
