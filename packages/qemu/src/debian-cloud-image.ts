import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  mkdir,
  mkdtemp,
  open,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError } from '@novacron/domain';
import { writeFileAtomic } from './atomic-write.js';
import { runProgram } from './exec.js';
import { silentLogger, type QemuLogger } from './logger.js';

/**
 * A small Debian 12 disk image with cloud-init, for proving cloud-init end to end: debootstrap
 * (minbase) into a folder, `mkfs.ext4 -d` into a partition of a raw file, GRUB's own i386-pc
 * image (built by the image's grub-mkimage, with the boot commands embedded) in the gap before
 * the partition and its boot sector in the MBR, converted to qcow2. No loop device, no mount.
 * cloud-init looks at NoCloud only, so a guest without a seed does not wait for network sources.
 */

/** Bump when the recipe changes in a way the constants below do not capture. */
const RECIPE_VERSION = 1;
const SUITE = 'bookworm';
export const DEBIAN_CLOUD_PACKAGES = [
  'cloud-init',
  // debootstrap does not resolve the virtual package python3-cryptography depends on.
  'python3-cffi-backend',
  'systemd-sysv',
  'udev',
  'linux-image-cloud-amd64',
  'initramfs-tools',
  'ifupdown',
  'isc-dhcp-client',
  'grub-pc-bin',
] as const;
const ROOT_LABEL = 'nc-root';
const FS_MIB = 1536;
const MiB = 1024 * 1024;
const FSTAB = '/dev/vda1 / ext4 defaults 0 1\n';
const CLOUD_CFG = 'datasource_list: [ NoCloud, None ]\n';
const GRUB_MODULES = ['biosdisk', 'part_msdos', 'ext2', 'linux', 'boot', 'serial', 'terminal'];
const MANIFEST = 'debian-cloud-image.json';
export const DEBIAN_CLOUD_DISK_FILE = 'disk.qcow2';

/** GRUB's commands, embedded in its core image: the serial console, then Linux at once. */
function grubConfig(kernelRelease: string): string {
  return [
    'serial --unit=0 --speed=115200',
    'terminal_output serial console',
    'set root=(hd0,msdos1)',
    `linux /boot/vmlinuz-${kernelRelease} root=/dev/vda1 ro console=ttyS0`,
    `initrd /boot/initrd.img-${kernelRelease}`,
    'boot',
    '',
  ].join('\n');
}

export interface DebianCloudImage {
  diskPath: string;
  /** SHA-256 of the qcow2 file. */
  sha256: string;
  sizeBytes: number;
  kernelRelease: string;
  /** How long the build took, when this call built it. */
  builtInMs: number | null;
}

interface Manifest {
  recipe: string;
  sha256: string;
  sizeBytes: number;
  kernelRelease: string;
}

export interface EnsureDebianCloudImageOptions {
  /** debootstrap's package cache (`debs/`) and build folders. */
  cacheDir: string;
  /** Receives `disk.qcow2` and its manifest. */
  outDir: string;
  logger?: QemuLogger;
}

/** What the output depends on. */
export function debianCloudRecipeHash(): string {
  return createHash('sha256')
    .update(
      JSON.stringify({
        recipe: RECIPE_VERSION,
        suite: SUITE,
        packages: DEBIAN_CLOUD_PACKAGES,
        fsMiB: FS_MIB,
        fstab: FSTAB,
        cloud: CLOUD_CFG,
        grub: grubConfig('RELEASE'),
        modules: GRUB_MODULES,
      }),
    )
    .digest('hex');
}

/**
 * The image, built only when missing or made by another recipe. The disk is written under a
 * temporary name and renamed, the manifest last, so a crash never leaves half an image that a
 * later run trusts. Needs root (debootstrap, chroot) and network access to a Debian mirror.
 */
export async function ensureDebianCloudImage(
  options: EnsureDebianCloudImageOptions,
): Promise<DebianCloudImage> {
  const logger = options.logger ?? silentLogger;
  await mkdir(options.cacheDir, { recursive: true });
  await mkdir(options.outDir, { recursive: true });
  const recipe = debianCloudRecipeHash();
  const existing = await readManifest(options.outDir);
  if (existing?.recipe === recipe) return toImage(options.outDir, existing, null);
  const started = Date.now();
  const manifest = await build(recipe, options, logger);
  return toImage(options.outDir, manifest, Date.now() - started);
}

async function build(
  recipe: string,
  options: EnsureDebianCloudImageOptions,
  logger: QemuLogger,
): Promise<Manifest> {
  if (process.getuid?.() !== 0) {
    throw new DomainError('IMAGE_NOT_READY', 'building the Debian cloud image needs root');
  }
  const debs = join(options.cacheDir, 'debs');
  await mkdir(debs, { recursive: true });
  await sweepStaleBuilds(options.cacheDir);
  const work = await mkdtemp(join(options.cacheDir, 'build-'));
  const failureCode = 'IMAGE_NOT_READY' as const;
  try {
    const root = join(work, 'root');
    const mirror = await hostDebianMirror();
    logger.info({ suite: SUITE, mirror: mirror ?? 'debootstrap default' }, 'debootstrap');
    await runProgram(
      'debootstrap',
      [
        '--variant=minbase',
        `--cache-dir=${debs}`,
        `--include=${DEBIAN_CLOUD_PACKAGES.join(',')}`,
        SUITE,
        root,
        ...(mirror === null ? [] : [mirror]),
      ],
      { timeoutMs: 1_800_000, failureCode },
    );
    const kernelRelease = await kernelReleaseOf(root);
    await writeFile(join(root, 'etc', 'fstab'), FSTAB);
    await writeFile(join(root, 'etc', 'cloud', 'cloud.cfg.d', '90_novacron.cfg'), CLOUD_CFG);
    // Not needed in the guest: apt's caches and lists (debootstrap's .debs stay in `debs`).
    for (const dir of ['var/cache/apt', 'var/lib/apt/lists']) {
      for (const entry of await readdir(join(root, dir)).catch(() => [])) {
        if (entry.endsWith('.bin') || entry.endsWith('_Packages') || entry.endsWith('.deb')) {
          await rm(join(root, dir, entry), { force: true });
        }
      }
    }
    for (const entry of await readdir(join(root, 'var/cache/apt/archives')).catch(() => [])) {
      if (entry.endsWith('.deb')) await rm(join(root, 'var/cache/apt/archives', entry));
    }

    // GRUB's core image, made by the guest's own grub-mkimage (the host needs no GRUB).
    await writeFile(join(root, 'tmp', 'embed.cfg'), grubConfig(kernelRelease));
    await runProgram(
      'chroot',
      [
        root,
        'grub-mkimage',
        '-O',
        'i386-pc',
        '-d',
        '/usr/lib/grub/i386-pc',
        '-o',
        '/tmp/core.img',
        '-c',
        '/tmp/embed.cfg',
        '-p',
        '(hd0,msdos1)/boot/grub',
        ...GRUB_MODULES,
      ],
      { failureCode },
    );
    const core = await readFile(join(root, 'tmp', 'core.img'));
    const bootSector = await readFile(join(root, 'usr/lib/grub/i386-pc/boot.img'));
    await rm(join(root, 'tmp', 'core.img'));
    await rm(join(root, 'tmp', 'embed.cfg'));
    if (core.length > MiB - 512 || bootSector.length !== 512) {
      throw new DomainError('IMAGE_NOT_READY', `GRUB core image of ${core.length} bytes`);
    }

    const raw = join(work, 'disk.raw');
    const handle = await open(raw, 'w');
    await handle.truncate(MiB + FS_MIB * MiB);
    await handle.close();
    await runProgram(
      'mkfs.ext4',
      ['-q', '-F', '-L', ROOT_LABEL, '-d', root, '-E', `offset=${MiB}`, raw, `${FS_MIB}M`],
      { timeoutMs: 600_000, failureCode },
    );
    const disk = await open(raw, 'r+');
    try {
      await disk.write(masterBootRecord(bootSector, MiB / 512, (FS_MIB * MiB) / 512), 0, 512, 0);
      // Where boot.img looks for it: sector 1, whose block list names the sectors after it.
      await disk.write(core, 0, core.length, 512);
    } finally {
      await disk.close();
    }
    const part = join(options.outDir, `${DEBIAN_CLOUD_DISK_FILE}.part`);
    await runProgram('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, part], {
      timeoutMs: 600_000,
      failureCode,
    });
    await rename(part, join(options.outDir, DEBIAN_CLOUD_DISK_FILE));
    const sizeBytes = (await stat(join(options.outDir, DEBIAN_CLOUD_DISK_FILE))).size;
    const manifest: Manifest = {
      recipe,
      sha256: await sha256Of(join(options.outDir, DEBIAN_CLOUD_DISK_FILE)),
      sizeBytes,
      kernelRelease,
    };
    await writeFileAtomic(join(options.outDir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * An MBR: GRUB's boot code (its first 440 bytes), one bootable Linux partition, the signature.
 * The CHS fields say "use LBA" as modern tools write them.
 */
export function masterBootRecord(bootSector: Buffer, startLba: number, sectors: number): Buffer {
  const mbr = Buffer.alloc(512);
  bootSector.copy(mbr, 0, 0, 440);
  const entry = 446;
  mbr[entry] = 0x80;
  mbr.set([0xfe, 0xff, 0xff], entry + 1);
  mbr[entry + 4] = 0x83;
  mbr.set([0xfe, 0xff, 0xff], entry + 5);
  mbr.writeUInt32LE(startLba, entry + 8);
  mbr.writeUInt32LE(sectors, entry + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

/** The Debian mirror the host's apt uses (deb822 or one-line sources), or null for the default. */
async function hostDebianMirror(): Promise<string | null> {
  const texts: string[] = [];
  for (const dir of ['/etc/apt/sources.list.d']) {
    for (const entry of await readdir(dir).catch(() => [])) {
      if (entry.endsWith('.sources') || entry.endsWith('.list')) {
        texts.push(await readFile(join(dir, entry), 'utf8').catch(() => ''));
      }
    }
  }
  texts.push(await readFile('/etc/apt/sources.list', 'utf8').catch(() => ''));
  for (const text of texts) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const uris = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uris !== undefined && suites.includes(SUITE) && isMirror(uris)) return uris;
    }
    for (const line of text.split('\n')) {
      const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (match?.[1] !== undefined && match[2] === SUITE && isMirror(match[1])) return match[1];
    }
  }
  return null;
}

function isMirror(uri: string): boolean {
  return /^https?:\/\/[^\s]+$/.test(uri) && !uri.includes('security');
}

/** Folders of a build that crashed (an hour old: a build running now is younger). */
async function sweepStaleBuilds(cacheDir: string): Promise<void> {
  const hourAgo = Date.now() - 3_600_000;
  for (const entry of await readdir(cacheDir)) {
    if (!entry.startsWith('build-')) continue;
    const info = await stat(join(cacheDir, entry)).catch(() => null);
    if (info && info.mtimeMs < hourAgo) {
      await rm(join(cacheDir, entry), { recursive: true, force: true });
    }
  }
}

async function kernelReleaseOf(root: string): Promise<string> {
  const kernel = (await readdir(join(root, 'boot'))).find((entry) => entry.startsWith('vmlinuz-'));
  if (kernel === undefined) {
    throw new DomainError('IMAGE_NOT_READY', 'the Debian cloud image has no kernel in /boot');
  }
  return kernel.slice('vmlinuz-'.length);
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function readManifest(outDir: string): Promise<Manifest | null> {
  try {
    const manifest = JSON.parse(await readFile(join(outDir, MANIFEST), 'utf8')) as Manifest;
    const disk = await stat(join(outDir, DEBIAN_CLOUD_DISK_FILE));
    return disk.size === manifest.sizeBytes ? manifest : null;
  } catch {
    return null;
  }
}

function toImage(outDir: string, manifest: Manifest, builtInMs: number | null): DebianCloudImage {
  return {
    diskPath: join(outDir, DEBIAN_CLOUD_DISK_FILE),
    sha256: manifest.sha256,
    sizeBytes: manifest.sizeBytes,
    kernelRelease: manifest.kernelRelease,
    builtInMs,
  };
}
