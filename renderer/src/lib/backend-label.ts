// How the status bar and the Train screen name the compute backend: its name and, on webgpu, the
// device it computes on ("webgpu · nvidia ampere"), marked when that device is a software one.
import type { BackendInfo, BackendName } from '../../../preload/contract';

/** `name` (a run's backend) or info's; the adapter is named when info describes that same backend. */
export function backendLabel(name: string | null | undefined, info: BackendInfo | null | undefined): string | null {
  const n = name ?? info?.name ?? null;
  if (n === null) return null;
  const a = info?.name === n ? info.adapter : undefined;
  if (!a) return n;
  const device = [a.vendor, a.architecture].filter((s) => s !== '').join(' ') || a.description || 'unknown GPU';
  return `${n} · ${device}${a.software ? ' (software, no GPU)' : ''}`;
}

/** What the backend's details say, a line each: the device webgpu computes on (vendor, architecture,
 *  description), then every faster backend that was not used and why (the engine's own words). */
export function backendWhy(name: string | null | undefined, info: BackendInfo | null | undefined): string[] {
  if (!info || (name != null && name !== info.name)) return [];
  const lines: string[] = [];
  const a = info.adapter;
  if (a) lines.push(`Device: ${[a.vendor, a.architecture].filter((s) => s !== '').join(' ') || 'unknown'}${a.description ? ` (${a.description})` : ''}${a.software ? ', a software adapter: no GPU' : ''}`);
  for (const t of info.tried) lines.push(`Not ${t.name}: ${t.error}`);
  return lines;
}

/** Every backend a user can choose, best first, in words (the status bar's and the Train screen's selects). */
export const BACKEND_CHOICES: readonly { name: BackendName; label: string }[] = [
  { name: 'tensorflow-gpu', label: 'GPU: TensorFlow CUDA' },
  { name: 'webgpu', label: 'GPU: WebGPU' },
  { name: 'tensorflow', label: 'CPU: TensorFlow' },
  { name: 'wasm', label: 'CPU: WebAssembly' },
  { name: 'cpu', label: 'CPU: JavaScript (slow)' },
];

/** The app setting's backend in words: 'Auto (best available)' or that backend's label. */
export function backendChoiceLabel(choice: 'auto' | BackendName): string {
  return choice === 'auto' ? 'Auto (best available)' : (BACKEND_CHOICES.find((c) => c.name === choice)?.label ?? choice);
}

/** A select's value as a backend choice ('auto' for anything it does not name). */
export function parseBackendChoice(v: string): 'auto' | BackendName {
  return BACKEND_CHOICES.find((c) => c.name === v)?.name ?? 'auto';
}
