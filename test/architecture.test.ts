// The import graph of the app's source, drawn from the files themselves (.ts and the <script> of
// .svelte): no cycle, and arrows only downward, as docs/architecture.md says:
//   renderer -> preload/contract;
//   main's three programs (electron, server, cli) -> main/app (the services) -> db, ml, preload/contract;
//   ml and db -> themselves, and db -> ml/scan.ts alone (the folder scanner both share; it imports
//   nothing of ours). No program imports another, and nothing imports a program.
// Electron is imported only by main/electron/ and preload/, native database access only by db/.
// The test prints the room-level drawing, so a new arrow shows up in its output before it fails.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/bvlc-fixture';

const ROOTS = ['ml', 'db', 'main', 'preload', 'renderer/src'];
const ROOMS = ['renderer', 'main/electron', 'main/server', 'main/cli', 'preload', 'main/app', 'db', 'ml'] as const; // top to bottom
type Room = (typeof ROOMS)[number];
const BELOW_PROGRAMS: Room[] = ['main/app', 'db', 'ml', 'preload'];
/** Which rooms each room may import (besides packages); a room's own files are always allowed. */
const ALLOWED: Record<Room, Room[]> = {
  ml: [],
  db: [],
  'main/app': ['db', 'ml', 'preload'],
  'main/electron': BELOW_PROGRAMS,
  'main/server': BELOW_PROGRAMS,
  'main/cli': BELOW_PROGRAMS,
  preload: [],
  renderer: ['preload'],
};
/** Single files a room may import across its rule: the folder scanner training and the library share (it imports nothing of ours). */
const SHARED: Record<string, Room[]> = { 'ml/scan.ts': ['db'] };
/** Packages only some rooms may import. */
const PACKAGE_ROOMS: Record<string, Room[]> = { electron: ['main/electron', 'preload'], 'better-sqlite3': ['db'] };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) return n === 'node_modules' || n === 'dist' ? [] : files(p);
    return /\.(ts|svelte)$/.test(n) && !n.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every module specifier a file imports or re-exports (static, dynamic, side-effect), by TypeScript's own scanner. */
function specifiers(file: string): string[] {
  let src = readFileSync(file, 'utf8');
  if (file.endsWith('.svelte')) src = [...src.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n');
  return ts.preProcessFile(src, true, true).importedFiles.map((f) => f.fileName);
}

/** The repo-relative file a relative specifier names, or null when it is not one of ours. */
function resolve(from: string, spec: string, known: Set<string>): string | null {
  const base = path.relative(repoRoot, path.resolve(path.dirname(from), spec));
  for (const c of [base, `${base}.ts`, `${base.replace(/\.js$/, '')}.ts`, path.join(base, 'index.ts')]) if (known.has(c)) return c;
  return null;
}

/** The room a file lives in: the longest room that prefixes its path; a file in no room is an error. */
function roomOf(f: string): Room {
  const room = [...ROOMS].sort((a, b) => b.length - a.length).find((r) => f.startsWith(`${r}/`));
  if (!room) throw new Error(`${f} is in no room (main/ holds only app/, electron/, server/ and cli/)`);
  return room;
}

const all = ROOTS.flatMap((r) => files(path.join(repoRoot, r))).map((f) => path.relative(repoRoot, f));
const known = new Set(all);
const graph = new Map<string, string[]>();
const packages: { file: string; pkg: string }[] = [];
for (const f of all) {
  const deps: string[] = [];
  for (const s of specifiers(path.join(repoRoot, f))) {
    if (s.startsWith('.')) {
      const r = resolve(path.join(repoRoot, f), s, known);
      if (r) deps.push(r);
      else if (!/\.(css|json|svg|png)$/.test(s)) throw new Error(`${f}: cannot resolve ${s}`);
    } else packages.push({ file: f, pkg: s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0] });
  }
  graph.set(f, deps);
}

describe('the import graph', () => {
  it('reads every source file and finds its imports', () => {
    expect(all.length).toBeGreaterThan(100);
    expect(graph.get('main/app/handlers/runs.ts')).toContain('db/training.ts');
    expect(graph.get('renderer/src/App.svelte')!.length).toBeGreaterThan(0);
    expect(new Set(all.map(roomOf))).toEqual(new Set(ROOMS)); // every room has files, and every file a room
  });

  it('points only downward: renderer -> preload/contract; electron, server, cli -> main/app -> db, ml, preload/contract; ml and db to themselves (db -> ml/scan.ts)', () => {
    const edges = new Map<string, number>();
    const wrong: string[] = [];
    for (const [f, deps] of graph) {
      for (const d of deps) {
        const key = `${roomOf(f)} -> ${roomOf(d)}`;
        edges.set(key, (edges.get(key) ?? 0) + 1);
        const [from, to] = [roomOf(f), roomOf(d)];
        if (from !== to && !ALLOWED[from].includes(to) && !SHARED[d]?.includes(from)) wrong.push(`${f} -> ${d}`);
        if (from !== 'preload' && to === 'preload' && d !== 'preload/contract.ts') wrong.push(`${f} -> ${d} (outside preload/, only the contract is known)`);
      }
    }
    console.log(`room-level import graph:\n${[...edges].sort().map(([k, n]) => `  ${k} (${n})`).join('\n')}`);
    expect(wrong).toEqual([]);
  });

  it('draws the rooms and their arrows in docs/import-graph.md, kept current (ALEXNET_WRITE_GRAPH=1 rewrites it)', () => {
    const arrows = new Set<string>();
    for (const [f, deps] of graph) for (const d of deps) if (roomOf(f) !== roomOf(d)) arrows.add(`${roomOf(f)} -> ${roomOf(d)}${SHARED[d] || d === 'preload/contract.ts' ? ` (${d} only)` : ''}`);
    const id = (r: Room): string => r.replace('/', '_');
    const lines = [...arrows].sort().map((a) => {
      const m = /^(\S+) -> (\S+)(?: \((.+)\))?$/.exec(a)!;
      return `  ${id(m[1] as Room)} -->${m[3] ? `|${m[3]}|` : ''} ${id(m[2] as Room)}`;
    });
    const drawing = [
      '# The import graph',
      '',
      'Drawn by `test/architecture.test.ts` from the sources (TypeScript\'s scanner, `.svelte` scripts too):',
      'an arrow means some file of one room imports a file of the other. The test fails when this',
      'drawing is out of date (`ALEXNET_WRITE_GRAPH=1 npx vitest run test/architecture.test.ts` redraws',
      'it), on a cycle, and on an arrow the rules do not allow (docs/architecture.md).',
      '',
      '```mermaid',
      'flowchart TD',
      ...ROOMS.map((r) => `  ${id(r)}["${r}/"]`),
      ...lines,
      '```',
      '',
    ].join('\n');
    const file = path.join(repoRoot, 'docs', 'import-graph.md');
    if (process.env.ALEXNET_WRITE_GRAPH === '1') writeFileSync(file, drawing);
    expect(readFileSync(file, 'utf8')).toBe(drawing);
  });

  it('ml/scan.ts, which db/ imports, imports nothing of ours (the library never loads TensorFlow)', () => {
    expect(graph.get('ml/scan.ts')).toEqual([]);
  });

  it('keeps Electron in main/ and preload/, better-sqlite3 in db/', () => {
    const wrong = packages.filter(({ file, pkg }) => PACKAGE_ROOMS[pkg] && !PACKAGE_ROOMS[pkg].includes(roomOf(file))).map(({ file, pkg }) => `${file} imports ${pkg}`);
    expect(wrong).toEqual([]);
  });

  it('has no cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const d of graph.get(f) ?? []) {
        if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].join(' -> '));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of all) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
