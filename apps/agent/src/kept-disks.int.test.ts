import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createOverlay, createQcow2 } from '@novacron/qemu';
import { makeTempDir } from '@novacron/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keepVmDisk, keptDisksDir } from './kept-disks.js';
import { agentPaths, vmDiskPath, type AgentPaths } from './paths.js';

// Real qcow2 files made by qemu-img, moved by keepVmDisk, in both pools.

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let paths: AgentPaths;

beforeEach(async () => {
  dir = await makeTempDir();
  paths = agentPaths(join(dir.path, 'data'), join(dir.path, 'shared'));
});

afterEach(async () => {
  await dir.remove();
});

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

async function makeDisk(spec: { id: string; pool?: 'local' | 'shared' }, base?: string) {
  const disk = vmDiskPath(paths, spec);
  await mkdir(join(disk, '..'), { recursive: true });
  if (base === undefined) await createQcow2(disk, 64 * 1024 * 1024);
  else await createOverlay(disk, base, 'qcow2');
  return disk;
}

describe('keepVmDisk', () => {
  it('moves a local disk under the agent folder and a shared one within the shared pool', async () => {
    const local = { id: 'vm1', name: 'web', pool: 'local' as const };
    const shared = { id: 'vm2', name: 'db', pool: 'shared' as const };
    const localDisk = await makeDisk(local);
    const sharedDisk = await makeDisk(shared);

    const keptLocal = join(paths.agentDir, 'kept-disks', 'web-vm1', 'disk.qcow2');
    expect(await keepVmDisk(paths, local)).toEqual([{ path: keptLocal, backingFile: null }]);
    const keptShared = join(dir.path, 'shared', 'kept-disks', 'db-vm2', 'disk.qcow2');
    expect(await keepVmDisk(paths, shared)).toEqual([{ path: keptShared, backingFile: null }]);
    expect(keptDisksDir(paths, 'shared')).toBe(join(dir.path, 'shared', 'kept-disks'));
    expect([await exists(localDisk), await exists(sharedDisk)]).toEqual([false, false]);
    expect([await exists(keptLocal), await exists(keptShared)]).toEqual([true, true]);
  });

  it('names the base image an overlay still reads, and answers the same when asked again', async () => {
    const base = join(dir.path, 'base.qcow2');
    await createQcow2(base, 64 * 1024 * 1024);
    const spec = { id: 'vm3', name: 'app' };
    await makeDisk(spec, base);
    const first = await keepVmDisk(paths, spec);
    expect(first).toEqual([
      { path: join(paths.agentDir, 'kept-disks', 'app-vm3', 'disk.qcow2'), backingFile: base },
    ]);
    // A delete resumed after the disk moved reports where it went.
    expect(await keepVmDisk(paths, spec)).toEqual(first);
    expect(await keepVmDisk(paths, { id: 'none', name: 'none' })).toEqual([]);
    expect(await exists(join(paths.agentDir, 'kept-disks', 'none-none'))).toBe(false);
  });

  it('refuses an id that is not safe as a path segment', async () => {
    await expect(keepVmDisk(paths, { id: '../x', name: 'x' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });
});
