/// <reference types="svelte" />
// The one error handler: every failed call lands here and is shown in words (a toast that stays
// until dismissed for errors, a few seconds for information). Components never show raw errors.
import { ERROR_TEXT } from '../../../preload/contract';
import { toAppError } from './api';

export type Toast = { id: number; kind: 'error' | 'info'; title: string; text: string };

export class Notifier {
  toasts = $state<Toast[]>([]);
  private nextId = 1;

  /** Shows `err` as words: the code's meaning as the title, the app's one-line message below. */
  error(err: unknown, context?: string): void {
    const e = toAppError(err);
    const title = context ? `${context}: ${ERROR_TEXT[e.code]}` : ERROR_TEXT[e.code];
    this.push('error', title, e.message === ERROR_TEXT[e.code] ? '' : e.message);
  }

  info(title: string, text = '', ms = 4000): void {
    const id = this.push('info', title, text);
    if (ms > 0) setTimeout(() => this.dismiss(id), ms);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  /** Runs `fn`, reporting a failure instead of throwing; resolves to undefined on failure. */
  async guard<T>(fn: () => Promise<T>, context?: string): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.error(err, context);
      return undefined;
    }
  }

  private push(kind: Toast['kind'], title: string, text: string): number {
    const id = this.nextId++;
    this.toasts = [...this.toasts.slice(-4), { id, kind, title, text }]; // at most five at once
    return id;
  }
}
