import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DomainError } from '@novacron/domain';
import { writeFileAtomic } from '../atomic-write.js';
import { runProgram, runProgramForBytes } from '../exec.js';
import { silentLogger, type QemuLogger } from '../logger.js';
import {
  downloadPackage,
  resolveTinyPackages,
  updateAptLists,
  type DebianPackage,
  type TinyPackages,
} from './apt.js';
import { CpioArchive } from './cpio.js';
import {
  MODULE_LIST_PATH,
  TINY_DEFAULT_KERNEL_ARGS,
  TINY_GUEST_MODULES,
  TINY_INIT_SCRIPT,
  TINY_UDHCPC_SCRIPT,
  UDHCPC_SCRIPT_PATH,
} from './init-script.js';
import {
  moduleLoadOrder,
  moduleName,
  readModuleDepends,
  type KernelModule,
} from './kernel-modules.js';

/** Bump when the recipe changes in a way the package versions and /init do not capture. */
const RECIPE_VERSION = 1;
const MANIFEST = 'tiny-image.json';
export const TINY_KERNEL_FILE = 'vmlinuz';
export const TINY_INITRD_FILE = 'initrd.img';

export interface TinyImage {
  kernelPath: string;
  initrdPath: string;
  /** SHA-256 of the kernel bytes followed by the initramfs bytes. */
  sha256: string;
  defaultKernelArgs: string;
  /** Kernel plus initramfs. */
  sizeBytes: number;
  packages: TinyPackages;
}

interface Manifest {
  /** Hash of the recipe (the /init script, modules, kernel arguments) the files were built with. */
  recipe: string;
  sha256: string;
  defaultKernelArgs: string;
  kernelBytes: number;
  initrdBytes: number;
  packages: TinyPackages;
}

export interface EnsureTinyImageOptions {
  /** Downloaded .deb files are kept here between builds. */
  cacheDir: string;
  /** Receives `vmlinuz`, `initrd.img` and `tiny-image.json`. */
  outDir: string;
  /**
   * Also rebuild when apt now has other versions of the packages than the last build used.
   * Without it an existing build of the current recipe is returned without asking apt at all.
   */
  refresh?: boolean;
  logger?: QemuLogger;
}

/**
 * The tiny test guest: Debian's cloud kernel and a busybox initramfs whose /init prints
 * NOVACRON-GUEST-READY and a heartbeat on the serial console and powers off on the ACPI button.
 * Built from Debian packages only (`apt-get download`, `dpkg -x`); the .deb files stay in
 * `cacheDir`, named by version. The output is built only when missing, made by another recipe,
 * or (with `refresh`) made from other package versions; every file is written atomically and the
 * manifest last, so a crash never leaves half an image behind.
 */
export async function ensureTinyImage(options: EnsureTinyImageOptions): Promise<TinyImage> {
  const logger = options.logger ?? silentLogger;
  await mkdir(options.cacheDir, { recursive: true });
  await mkdir(options.outDir, { recursive: true });
  const recipe = recipeHash();
  const existing = await readManifest(options.outDir);
  if (existing?.recipe === recipe && options.refresh !== true) {
    return toImage(options.outDir, existing);
  }

  let packages: TinyPackages;
  try {
    packages = await resolveWithUpdate(logger);
  } catch (error) {
    // No apt, or no lists and no network: an image built earlier still boots.
    if (existing) {
      logger.warn(
        { error: String(error) },
        'cannot resolve the tiny image packages; keeping the last build',
      );
      return toImage(options.outDir, existing);
    }
    throw error;
  }
  if (existing?.recipe === recipe && samePackages(existing.packages, packages)) {
    return toImage(options.outDir, existing);
  }

  try {
    return toImage(options.outDir, await build(packages, recipe, options, logger));
  } catch (error) {
    if (existing) {
      logger.warn({ error: String(error) }, 'tiny image rebuild failed; keeping the last build');
      return toImage(options.outDir, existing);
    }
    throw error;
  }
}

/** What the output depends on besides the package versions. */
export function recipeHash(): string {
  return createHash('sha256')
    .update(
      JSON.stringify({
        recipe: RECIPE_VERSION,
        init: TINY_INIT_SCRIPT,
        udhcpc: TINY_UDHCPC_SCRIPT,
        args: TINY_DEFAULT_KERNEL_ARGS,
        modules: TINY_GUEST_MODULES,
      }),
    )
    .digest('hex');
}

function samePackages(a: TinyPackages, b: TinyPackages): boolean {
  return (
    a.kernel.name === b.kernel.name &&
    a.kernel.version === b.kernel.version &&
    a.busybox.name === b.busybox.name &&
    a.busybox.version === b.busybox.version
  );
}

async function resolveWithUpdate(logger: QemuLogger): Promise<TinyPackages> {
  try {
    return await resolveTinyPackages();
  } catch {
    await updateAptLists(logger);
    return resolveTinyPackages();
  }
}

async function download(pkg: DebianPackage, cacheDir: string, logger: QemuLogger): Promise<string> {
  try {
    return await downloadPackage(pkg, cacheDir, logger);
  } catch {
    // Lists older than the mirror point at files that are gone: refresh once and retry.
    await updateAptLists(logger);
    return downloadPackage(pkg, cacheDir, logger);
  }
}

async function build(
  packages: TinyPackages,
  recipe: string,
  options: EnsureTinyImageOptions,
  logger: QemuLogger,
): Promise<Manifest> {
  const started = Date.now();
  await sweepStale(options.cacheDir, /^(build|download)-/);
  await sweepStale(options.outDir, /\.tmp-[0-9a-f]+$/);
  const kernelDeb = await download(packages.kernel, options.cacheDir, logger);
  const busyboxDeb = await download(packages.busybox, options.cacheDir, logger);
  const work = await mkdtemp(join(options.cacheDir, 'build-'));
  try {
    const failureCode = 'IMAGE_NOT_READY' as const;
    await runProgram('dpkg', ['-x', kernelDeb, join(work, 'kernel')], { failureCode });
    await runProgram('dpkg', ['-x', busyboxDeb, join(work, 'busybox')], { failureCode });

    const kernelPath = await findOne(join(work, 'kernel', 'boot'), /^vmlinuz-/);
    const release = kernelPath.slice(kernelPath.lastIndexOf('vmlinuz-') + 'vmlinuz-'.length);
    const busybox = join(work, 'busybox', 'bin', 'busybox');
    const modules = await selectModules(join(work, 'kernel', 'lib', 'modules', release));

    const archive = new CpioArchive();
    for (const dir of [
      'bin',
      'sbin',
      'usr/bin',
      'usr/sbin',
      'etc',
      'proc',
      'sys',
      'dev',
      'tmp',
      'run',
    ]) {
      archive.addDirectory(dir);
    }
    archive.addCharDevice('dev/console', 5, 1);
    archive.addCharDevice('dev/null', 1, 3, 0o666);
    archive.addFile('bin/busybox', await readFile(busybox), 0o755);
    // The applet list comes from the very binary we ship (it is static, so it runs on the host).
    const { stdout: applets } = await runProgram(busybox, ['--list-full'], { failureCode });
    for (const applet of applets.split('\n').map((line) => line.trim())) {
      if (applet === '' || applet === 'bin/busybox' || archive.has(applet)) continue;
      archive.addSymlink(applet, '/bin/busybox');
    }
    archive.addDirectory('lib/modules');
    for (const module of modules) {
      archive.addFile(`lib/modules/${module.name}.ko`, await readModule(module, busybox), 0o644);
    }
    archive.addFile(MODULE_LIST_PATH, `${modules.map((module) => module.name).join('\n')}\n`);
    archive.addFile(UDHCPC_SCRIPT_PATH, TINY_UDHCPC_SCRIPT, 0o755);
    archive.addFile('init', TINY_INIT_SCRIPT, 0o755);

    const kernel = await readFile(kernelPath);
    const initrd = gzipSync(archive.toBuffer(), { level: 9 });
    const manifest: Manifest = {
      recipe,
      sha256: createHash('sha256').update(kernel).update(initrd).digest('hex'),
      defaultKernelArgs: TINY_DEFAULT_KERNEL_ARGS,
      kernelBytes: kernel.length,
      initrdBytes: initrd.length,
      packages,
    };
    await writeFileAtomic(join(options.outDir, TINY_KERNEL_FILE), kernel);
    await writeFileAtomic(join(options.outDir, TINY_INITRD_FILE), initrd);
    // The manifest goes last: it vouches for the two files above.
    await writeFileAtomic(join(options.outDir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    logger.info(
      { kernel: packages.kernel, busybox: packages.busybox, ms: Date.now() - started },
      'built the tiny guest image',
    );
    return manifest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function selectModules(releaseDir: string): Promise<KernelModule[]> {
  const available = new Map<string, KernelModule>();
  for (const path of await listFiles(join(releaseDir, 'kernel'))) {
    const file = path.slice(path.lastIndexOf('/') + 1);
    if (!/\.ko(\.xz|\.zst)?$/.test(file)) continue;
    available.set(moduleName(file), { name: moduleName(file), path, depends: [] });
  }
  const builtin = new Set<string>();
  const builtinList = await readFile(join(releaseDir, 'modules.builtin'), 'utf8').catch(() => '');
  for (const line of builtinList.split('\n')) {
    if (line.trim() !== '') builtin.add(moduleName(line.slice(line.lastIndexOf('/') + 1)));
  }
  // Only the modules we may load need their .modinfo read.
  const wanted = new Set<string>();
  const queue: string[] = [...TINY_GUEST_MODULES];
  while (queue.length > 0) {
    const name = moduleName(queue.shift() ?? '');
    const module = available.get(name);
    if (wanted.has(name) || !module) continue;
    wanted.add(name);
    module.depends = readModuleDepends(await readModuleBytesForInfo(module));
    queue.push(...module.depends);
  }
  try {
    return moduleLoadOrder(TINY_GUEST_MODULES, available, builtin);
  } catch (error) {
    throw new DomainError('IMAGE_NOT_READY', `tiny image: ${(error as Error).message}`);
  }
}

/** The .modinfo of a compressed module is only readable after decompression. */
async function readModuleBytesForInfo(module: KernelModule): Promise<Uint8Array> {
  if (module.path.endsWith('.ko')) return readFile(module.path);
  return decompressModule(module.path, null);
}

async function readModule(module: KernelModule, busybox: string): Promise<Uint8Array> {
  if (module.path.endsWith('.ko')) return readFile(module.path);
  // busybox insmod cannot load compressed modules: unpack on the host.
  return decompressModule(module.path, busybox);
}

async function decompressModule(path: string, busybox: string | null): Promise<Uint8Array> {
  const options = { failureCode: 'IMAGE_NOT_READY' as const };
  if (path.endsWith('.zst')) return runProgramForBytes('zstd', ['-dc', path], options);
  if (busybox) return runProgramForBytes(busybox, ['xzcat', path], options);
  return runProgramForBytes('xz', ['-dc', path], options);
}

/** Leftovers of a build that crashed (an hour old: a build running now is younger). */
async function sweepStale(dir: string, pattern: RegExp): Promise<void> {
  const hourAgo = Date.now() - 3_600_000;
  for (const entry of await readdir(dir)) {
    if (!pattern.test(entry)) continue;
    const path = join(dir, entry);
    const info = await stat(path).catch(() => null);
    if (info && info.mtimeMs < hourAgo) await rm(path, { recursive: true, force: true });
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

async function findOne(dir: string, pattern: RegExp): Promise<string> {
  const match = (await readdir(dir)).find((entry) => pattern.test(entry));
  if (!match) {
    throw new DomainError('IMAGE_NOT_READY', `the kernel package has no ${String(pattern)} file`);
  }
  return join(dir, match);
}

async function readManifest(outDir: string): Promise<Manifest | null> {
  try {
    const manifest = JSON.parse(await readFile(join(outDir, MANIFEST), 'utf8')) as Manifest;
    const [kernel, initrd] = await Promise.all([
      stat(join(outDir, TINY_KERNEL_FILE)),
      stat(join(outDir, TINY_INITRD_FILE)),
    ]);
    if (kernel.size !== manifest.kernelBytes || initrd.size !== manifest.initrdBytes) return null;
    return manifest;
  } catch {
    return null;
  }
}

function toImage(outDir: string, manifest: Manifest): TinyImage {
  return {
    kernelPath: join(outDir, TINY_KERNEL_FILE),
    initrdPath: join(outDir, TINY_INITRD_FILE),
    sha256: manifest.sha256,
    defaultKernelArgs: manifest.defaultKernelArgs,
    sizeBytes: manifest.kernelBytes + manifest.initrdBytes,
    packages: manifest.packages,
  };
}
