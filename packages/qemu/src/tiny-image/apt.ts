import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError } from '@novacron/domain';
import { runProgram } from '../exec.js';
import type { QemuLogger } from '../logger.js';

/** A Debian binary package pinned to one version. */
export interface DebianPackage {
  name: string;
  version: string;
}

export interface TinyPackages {
  kernel: DebianPackage;
  busybox: DebianPackage;
}

const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';
const KERNEL_PACKAGE = /^linux-image-6\.1\.[0-9][0-9a-z.+~-]*-cloud-amd64$/;
const BUSYBOX_PACKAGE = 'busybox-static';

/** Reads what the metapackage points at and both candidate versions, from the local apt lists. */
export async function resolveTinyPackages(): Promise<TinyPackages> {
  const { stdout: depends } = await apt('apt-cache', ['depends', KERNEL_METAPACKAGE]);
  const kernelName = depends
    .split('\n')
    .map((line) => /^\s*Depends:\s*(\S+)/.exec(line)?.[1])
    .find((name) => name !== undefined && KERNEL_PACKAGE.test(name));
  if (!kernelName) {
    throw new DomainError(
      'IMAGE_NOT_READY',
      `${KERNEL_METAPACKAGE} depends on no linux-image-6.1.*-cloud-amd64 package in the apt lists`,
    );
  }
  const versions = await candidateVersions([kernelName, BUSYBOX_PACKAGE]);
  return {
    kernel: { name: kernelName, version: versions.get(kernelName) ?? '' },
    busybox: { name: BUSYBOX_PACKAGE, version: versions.get(BUSYBOX_PACKAGE) ?? '' },
  };
}

/** Candidate versions of several packages with one apt-cache run (each run reads every list). */
async function candidateVersions(names: string[]): Promise<Map<string, string>> {
  const { stdout } = await apt('apt-cache', ['show', '--no-all-versions', ...names]);
  const versions = new Map<string, string>();
  for (const stanza of stdout.split(/\n\s*\n/)) {
    const name = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
    const version = /^Version:\s*(\S+)/m.exec(stanza)?.[1];
    if (name && version && !versions.has(name)) versions.set(name, version);
  }
  for (const name of names) {
    if (!versions.has(name)) {
      throw new DomainError('IMAGE_NOT_READY', `apt has no candidate version of ${name}`);
    }
  }
  return versions;
}

/**
 * The .deb of `pkg` in `cacheDir`, downloaded with `apt-get download` (which writes into its
 * working directory) unless a previous run left it there.
 */
export async function downloadPackage(
  pkg: DebianPackage,
  cacheDir: string,
  logger: QemuLogger,
): Promise<string> {
  const cached = await findDeb(pkg, cacheDir);
  if (cached) return cached;
  logger.info({ package: pkg.name, version: pkg.version }, 'downloading Debian package');
  // Into a private folder, then renamed: a crash or a concurrent build never leaves a partial
  // .deb under the name a later run trusts.
  const work = await mkdtemp(join(cacheDir, 'download-'));
  try {
    await apt('apt-get', ['download', '-q', `${pkg.name}=${pkg.version}`], { cwd: work });
    const file = (await readdir(work)).find((entry) => entry.endsWith('.deb'));
    if (!file) {
      throw new DomainError(
        'IMAGE_NOT_READY',
        `apt-get download ${pkg.name}=${pkg.version} left no .deb behind`,
      );
    }
    const target = join(cacheDir, debFileName(pkg));
    await rename(join(work, file), target);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Refreshes the apt lists: only when a lookup or download failed for want of them. */
export async function updateAptLists(logger: QemuLogger): Promise<void> {
  logger.info({}, 'refreshing apt package lists (apt-get update)');
  await apt('apt-get', ['update', '-q'], { timeoutMs: 300_000 });
}

/** apt-get names a download `<name>_<version, ':' as %3a>_<arch>.deb`. */
export function debFileName(pkg: DebianPackage, arch = 'amd64'): string {
  return `${pkg.name}_${pkg.version.replace(/:/g, '%3a')}_${arch}.deb`;
}

async function findDeb(pkg: DebianPackage, cacheDir: string): Promise<string | null> {
  const expected = debFileName(pkg);
  const entries = await readdir(cacheDir);
  const match = entries.find(
    (entry) => entry === expected || entry === expected.replace('%3a', ':'),
  );
  return match === undefined ? null : join(cacheDir, match);
}

function apt(
  program: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): ReturnType<typeof runProgram> {
  return runProgram(program, args, {
    ...options,
    timeoutMs: options.timeoutMs ?? 600_000,
    failureCode: 'IMAGE_NOT_READY',
  });
}
