// Types of scripts/package-contents.mjs for the TypeScript tests (test/scripts/package-contents.test.ts).
export type AsarEntry = { unpacked: boolean; size: number };
export function asarFiles(archive: string): Map<string, AsarEntry>;
export function readAsarText(archive: string, file: string): string;
export function splitSpecifier(spec: string): [string, string];
export function resolveExports(exp: unknown, subpath: string): string | null;
export function resolveInFiles(spec: string, fromDir: string, files: Map<string, unknown> | Set<string>, readJson: (file: string) => { main?: string; exports?: unknown }): string | null;
export function unresolvedImports(externals: Record<string, string[]>, files: Map<string, unknown> | Set<string>, readJson: (file: string) => { main?: string; exports?: unknown }, provided?: string[]): string[];
export function presentUnder(files: Map<string, unknown>, prefixes: string[]): [string, string][];
