// A Vulkan driver for the webgpu tests on machines without a GPU: SwiftShader, Google's software
// Vulkan implementation, as @sparticuz/chromium ships it (a devDependency: bin/swiftshader.tar.br
// holds libvk_swiftshader.so, the Vulkan loader libvulkan.so.1 and the ICD manifest), or as Debian's
// chromium package installs it (/usr/lib/chromium). Linux x64 only; elsewhere the tests use whatever
// driver the system has.
//
// Dawn (the `webgpu` package) loads libvulkan.so.1 by name, and the dynamic linker reads
// LD_LIBRARY_PATH only when a process starts: the environment from vulkanEnv() is for child
// processes (vitest's webgpu project, a spawned CLI), never set in the running one.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import zlib from 'node:zlib';

export type VulkanDriver = { libDir: string; icd: string; source: string };

const ICD = 'vk_swiftshader_icd.json';
const WANTED = ['libvk_swiftshader.so', 'libvulkan.so.1', ICD]; // (not its libEGL/libGLESv2)

function complete(dir: string): boolean {
  return WANTED.every((f) => fs.existsSync(path.join(dir, f)));
}

/** Unpacks @sparticuz/chromium's SwiftShader into `cacheDir` once; null where the package is absent. */
function fromSparticuz(cacheDir: string): VulkanDriver | null {
  const require = createRequire(import.meta.url);
  let pkgDir: string;
  try {
    pkgDir = path.resolve(path.dirname(require.resolve('@sparticuz/chromium')), '..'); // (its exports hide package.json)
  } catch {
    return null;
  }
  const archive = path.join(pkgDir, 'bin', 'swiftshader.tar.br');
  if (!fs.existsSync(archive)) return null;
  const version = (JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  const dir = path.join(cacheDir, `swiftshader-${version}`);
  if (!complete(dir)) {
    // unpacked beside, then renamed: a concurrent or interrupted unpack never leaves a partial folder
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.mkdirSync(tmp, { recursive: true });
    const tar = spawnSync('tar', ['-x', '-C', tmp, ...WANTED], { input: zlib.brotliDecompressSync(fs.readFileSync(archive)) });
    if (tar.status !== 0 || !complete(tmp)) {
      fs.rmSync(tmp, { recursive: true, force: true });
      return null;
    }
    try {
      fs.renameSync(tmp, dir);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true }); // another process got there first
    }
  }
  return { libDir: dir, icd: path.join(dir, ICD), source: `@sparticuz/chromium ${version} (SwiftShader)` };
}

/**
 * The software Vulkan driver for tests, or null (not Linux x64, or neither source present).
 * `cacheDir` is where the npm copy is unpacked (default node_modules/.cache/alexnet-studio).
 */
export function findVulkanDriver(cacheDir = path.resolve('node_modules', '.cache', 'alexnet-studio')): VulkanDriver | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  const npm = fromSparticuz(cacheDir);
  if (npm !== null) return npm;
  const debian = '/usr/lib/chromium';
  if (complete(debian)) return { libDir: debian, icd: path.join(debian, ICD), source: "Debian's chromium (SwiftShader)" };
  return null;
}

/**
 * Environment for a child process that should see `driver` as its only Vulkan device. A
 * VK_ICD_FILENAMES already set (someone chose a driver) is kept: then this adds nothing.
 */
export function vulkanEnv(driver: VulkanDriver | null, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (driver === null || base.VK_ICD_FILENAMES) return {};
  const ld = base.LD_LIBRARY_PATH ? `${driver.libDir}${path.delimiter}${base.LD_LIBRARY_PATH}` : driver.libDir;
  return { LD_LIBRARY_PATH: ld, VK_ICD_FILENAMES: driver.icd, ALEXNET_TEST_VULKAN: driver.source };
}
