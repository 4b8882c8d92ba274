import { isAbsolute } from 'node:path';
import { SNAPSHOT_NAME_PATTERN } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { runProgram } from './exec.js';
import type { QemuImgOptions } from './qemu-img.js';

// qcow2 internal snapshots of a disk no QEMU holds (`qemu-img snapshot`), and copies of a disk
// or of one of its snapshots (`qemu-img convert`). docs/adr/0022-snapshots-clones-templates.md.

/** One internal snapshot as `qemu-img info` lists it. */
export interface DiskSnapshot {
  name: string;
  /** Bytes of saved guest RAM and device state; 0 for a disk-only snapshot. */
  vmStateBytes: number;
}

const SNAPSHOT_NAME = new RegExp(SNAPSHOT_NAME_PATTERN);

/** The internal snapshots of a qcow2 disk; `--force-share` also reads one a running VM holds. */
export async function listDiskSnapshots(
  disk: string,
  options: QemuImgOptions = {},
): Promise<DiskSnapshot[]> {
  assertPath(disk);
  const { stdout } = await qemuImg(
    ['info', '--output=json', '--force-share', '-f', 'qcow2', disk],
    options,
  );
  const info = JSON.parse(stdout) as {
    snapshots?: { name: string; 'vm-state-size'?: number }[];
  };
  return (info.snapshots ?? []).map((s) => ({
    name: s.name,
    vmStateBytes: s['vm-state-size'] ?? 0,
  }));
}

/** `qemu-img snapshot -c|-a|-d`: create, apply (revert to) or delete a snapshot offline. */
export async function diskSnapshot(
  action: 'create' | 'apply' | 'delete',
  disk: string,
  name: string,
  options: QemuImgOptions = {},
): Promise<void> {
  assertPath(disk);
  assertSnapshotName(name);
  const flag = { create: '-c', apply: '-a', delete: '-d' }[action];
  await qemuImg(['snapshot', '-q', flag, name, disk], options);
}

/**
 * Copies a qcow2 disk (as it is now, or as it was in `snapshot`) into a new qcow2 at `target`.
 * With `backing`, the copy is an overlay on that file and only the source's own layer is copied
 * (both must read the same below it: the VM's base image). `forceShare` reads a disk a running
 * VM holds: only safe for a snapshot, whose clusters the running VM never writes.
 */
export async function copyDisk(
  source: string,
  target: string,
  options: QemuImgOptions & {
    snapshot?: string;
    backing?: { file: string; format: string };
    forceShare?: boolean;
  } = {},
): Promise<void> {
  assertPath(source);
  assertPath(target);
  const args = ['convert', '-q', '-f', 'qcow2', '-O', 'qcow2'];
  if (options.snapshot !== undefined) {
    assertSnapshotName(options.snapshot);
    args.push('-l', `snapshot.name=${options.snapshot}`);
  }
  if (options.forceShare) args.push('-U');
  if (options.backing !== undefined) {
    assertPath(options.backing.file);
    if (!/^[a-z0-9]+$/.test(options.backing.format)) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `invalid backing format ${options.backing.format}`,
      );
    }
    args.push('-B', options.backing.file, '-F', options.backing.format);
  }
  args.push(source, target);
  await qemuImg(args, { timeoutMs: 3_600_000, ...options });
}

export function assertSnapshotName(name: string): void {
  if (!SNAPSHOT_NAME.test(name)) {
    throw new DomainError('VALIDATION_FAILED', `invalid snapshot name ${JSON.stringify(name)}`, {
      snapshot: name.slice(0, 80),
    });
  }
}

function qemuImg(args: string[], options: QemuImgOptions) {
  return runProgram(options.binary ?? 'qemu-img', args, {
    timeoutMs: options.timeoutMs ?? 120_000,
    failureCode: 'QEMU_FAILED',
  });
}

// Absolute paths only: a relative one starting with '-' would read as an option.
function assertPath(path: string): void {
  if (!isAbsolute(path) || /[\0\n]/.test(path)) {
    throw new DomainError('VALIDATION_FAILED', `image path must be absolute: ${path}`, { path });
  }
}
