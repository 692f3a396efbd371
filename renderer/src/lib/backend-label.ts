// How the status bar and the Train screen name the compute backend: its name and, on webgpu, the
// device it computes on ("webgpu · nvidia ampere"), marked when that device is a software one.
import type { BackendInfo } from '../../../preload/contract';

/** `name` (a run's backend) or info's; the adapter is named when info describes that same backend. */
export function backendLabel(name: string | null | undefined, info: BackendInfo | null | undefined): string | null {
  const n = name ?? info?.name ?? null;
  if (n === null) return null;
  const a = info?.name === n ? info.adapter : undefined;
  if (!a) return n;
  const device = [a.vendor, a.architecture].filter((s) => s !== '').join(' ') || a.description || 'unknown GPU';
  return `${n} · ${device}${a.software ? ' (software, no GPU)' : ''}`;
}
