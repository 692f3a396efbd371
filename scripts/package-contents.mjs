// What a packed app.asar holds, and whether the bundles' imports resolve inside it, read from the archive
// itself (no Electron): scripts/check-package.mjs uses it on the package electron-builder made.
// Paths are relative to the app's root, '/'-separated (node_modules/sharp/package.json).
import { builtinModules, createRequire } from 'node:module';
import path from 'node:path';

const asar = createRequire(import.meta.url)('@electron/asar');

/** Every file app.asar lists (directories left out), with whether it lies in app.asar.unpacked. */
export function asarFiles(archive) {
  const files = new Map();
  const walk = (node, prefix) => {
    for (const [name, entry] of Object.entries(node.files ?? {})) {
      const p = prefix ? `${prefix}/${name}` : name;
      if (entry.files) walk(entry, p);
      else files.set(p, { unpacked: entry.unpacked === true, size: entry.size ?? 0 });
    }
  };
  walk(asar.getRawHeader(archive).header, '');
  return files;
}

/** Reads one file of the archive (an unpacked one from app.asar.unpacked) as text. */
export function readAsarText(archive, file) {
  return asar.extractFile(archive, file.split('/').join(path.sep)).toString('utf8');
}

const isBuiltin = (spec) => spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]);

/** 'a/b/c' -> ['a', 'b/c']; '@s/a/b' -> ['@s/a', 'b']. */
export function splitSpecifier(spec) {
  const parts = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  return [parts.slice(0, n).join('/'), parts.slice(n).join('/')];
}

// the conditions Node's resolver matches for `import` and `require` in the main process and the worker
const CONDITIONS = ['node', 'import', 'require', 'module-sync', 'default'];

function exportsTarget(value) {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    for (const v of value) {
      const t = exportsTarget(v);
      if (t) return t;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [cond, v] of Object.entries(value)) {
      if (!CONDITIONS.includes(cond)) continue;
      const t = exportsTarget(v);
      if (t) return t;
    }
  }
  return null;
}

/** The package-relative target of `subpath` ('.' or './x') in a package.json `exports`, or null. */
export function resolveExports(exp, subpath) {
  const map = typeof exp === 'string' || Array.isArray(exp) || !Object.keys(exp).some((k) => k.startsWith('.')) ? { '.': exp } : exp;
  if (subpath in map) return exportsTarget(map[subpath]);
  for (const [key, value] of Object.entries(map)) {
    const star = key.indexOf('*');
    if (star < 0 || !subpath.startsWith(key.slice(0, star)) || !subpath.endsWith(key.slice(star + 1))) continue;
    const match = subpath.slice(star, subpath.length - (key.length - star - 1));
    const t = exportsTarget(value);
    if (t) return t.replaceAll('*', match);
  }
  return null;
}

/**
 * Resolves a bare specifier imported by a file in `fromDir` as Node would, against the archive's files:
 * the nearest node_modules/<name>/package.json up from fromDir, then its `exports` (conditions node,
 * import, require, default) or, without exports, the subpath or `main` with Node's extension and
 * index.js fallbacks. Returns the file it lands on, or null. `readJson(file)` reads a listed file.
 */
export function resolveInFiles(spec, fromDir, files, readJson) {
  if (isBuiltin(spec)) return spec;
  const [name, sub] = splitSpecifier(spec);
  let root = null;
  for (let dir = fromDir; ; dir = path.posix.dirname(dir)) {
    const base = dir === '.' || dir === '' ? '' : `${dir}/`;
    if (!base.endsWith('node_modules/') && files.has(`${base}node_modules/${name}/package.json`)) {
      root = `${base}node_modules/${name}`;
      break;
    }
    if (dir === '.' || dir === '' || dir === '/') break;
  }
  if (!root) return null;
  const pkg = readJson(`${root}/package.json`);
  const fileOf = (rel) => {
    const p = path.posix.normalize(`${root}/${rel}`);
    for (const f of [p, `${p}.js`, `${p}.json`, `${p}.node`, `${p}/index.js`, `${p}/index.json`, `${p}/index.node`]) if (files.has(f)) return f;
    return null;
  };
  if (pkg.exports !== undefined && pkg.exports !== null) {
    const target = resolveExports(pkg.exports, sub ? `./${sub}` : '.');
    const p = target && path.posix.normalize(`${root}/${target}`);
    return p && files.has(p) ? p : null;
  }
  if (sub) return fileOf(sub);
  return (pkg.main && fileOf(pkg.main)) || fileOf('index');
}

/**
 * The imports of each bundle that do not resolve in the archive, as 'spec (from bundle)'.
 * `externals`: { 'dist/electron/main.mjs': ['sharp', 'node:fs', ...] } (scripts/build-app.mjs);
 * `provided`: names the runtime supplies itself (electron).
 */
export function unresolvedImports(externals, files, readJson, provided = ['electron']) {
  const missing = [];
  for (const [bundle, specs] of Object.entries(externals)) {
    for (const spec of specs) {
      if (provided.includes(spec)) continue;
      if (!resolveInFiles(spec, path.posix.dirname(bundle), files, readJson)) missing.push(`${spec} (from ${bundle})`);
    }
  }
  return missing;
}

/** The listed files under any of `prefixes` ('node_modules/tsx/'), one example each: [prefix, file]. */
export function presentUnder(files, prefixes) {
  const hits = [];
  for (const prefix of prefixes) {
    for (const f of files.keys()) {
      if (f.startsWith(prefix)) {
        hits.push([prefix, f]);
        break;
      }
    }
  }
  return hits;
}
