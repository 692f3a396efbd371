// Exporting labels out of the library: as <class>/ folders of links (or copies) to the photos, the
// ImageFolder layout every training tool reads, or as a CSV of path,label. Only readable, labeled
// photos are exported; the photos themselves are never moved or changed.
import fs from 'node:fs';
import path from 'node:path';
import { DbError } from './errors';
import type { Library } from './index';

export type ExportFormat = 'folders' | 'csv';
export type ExportOptions = { format: ExportFormat; out: string; copy?: boolean };
export type ExportSummary = { dataset: string; format: ExportFormat; out: string; exported: number; byClass: Record<string, number>; skipped: number; mode: 'link' | 'copy' | 'csv' };

/** Quotes a CSV field when it needs it (RFC 4180). */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function exportLabels(lib: Library, dataset: string | number, opts: ExportOptions): ExportSummary {
  const ds = lib.datasets.require(dataset);
  const classes = new Map(lib.classes.list(ds.id).map((c) => [c.id, c.name]));
  const all = lib.photos.all(ds.id);
  const photos = all.filter((p) => p.status === 'ok' && p.classId !== null);
  const out = path.resolve(opts.out);
  const byClass: Record<string, number> = {};
  for (const name of classes.values()) byClass[name] = 0;

  if (opts.format === 'csv') {
    if (fs.existsSync(out) && fs.statSync(out).isDirectory()) throw new DbError('EXPORT_FAILED', `${out} is a folder; give a file name for the CSV`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const lines = ['path,label'];
    for (const p of photos) {
      const label = classes.get(p.classId!)!;
      lines.push(`${csvField(p.path)},${csvField(label)}`);
      byClass[label]++;
    }
    const tmp = `${out}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, lines.join('\n') + '\n');
    fs.renameSync(tmp, out);
    return { dataset: ds.name, format: 'csv', out, exported: photos.length, byClass, skipped: all.length - photos.length, mode: 'csv' };
  }

  if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length > 0)) {
    throw new DbError('EXPORT_TARGET_NOT_EMPTY', `${out} already exists and is not an empty folder; choose a new folder`);
  }
  const used = new Set<string>();
  for (const p of photos) {
    const label = classes.get(p.classId!)!;
    const dir = path.join(out, label);
    // every target stays inside the output folder, whatever an older library let a class be called
    if (path.dirname(dir) !== out || label === '.' || label === '..') throw new DbError('EXPORT_FAILED', `the class name '${label}' cannot be a folder name: rename the class`);
    fs.mkdirSync(dir, { recursive: true });
    // two photos with one name in a class (from different folders) keep both: prefix the id
    let target = path.join(dir, p.name);
    if (used.has(target.toLowerCase())) target = path.join(dir, `${p.id}-${p.name}`);
    if (path.dirname(target) !== dir) target = path.join(dir, `${p.id}-${path.basename(p.path)}`);
    used.add(target.toLowerCase());
    try {
      if (opts.copy) fs.copyFileSync(p.path, target, fs.constants.COPYFILE_EXCL);
      else fs.symlinkSync(p.path, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const hint = !opts.copy && (code === 'EPERM' || code === 'EACCES') ? ' (this file system does not allow links; use --copy)' : '';
      throw new DbError('EXPORT_FAILED', `cannot ${opts.copy ? 'copy' : 'link'} ${p.path} to ${target}: ${code ?? (err as Error).message}${hint}`);
    }
    byClass[label]++;
  }
  return { dataset: ds.name, format: 'folders', out, exported: photos.length, byClass, skipped: all.length - photos.length, mode: opts.copy ? 'copy' : 'link' };
}
