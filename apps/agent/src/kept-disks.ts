import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AgentVmSpec, KeptDisk } from '@novacron/api';
import { imageInfo } from '@novacron/qemu';
import { vmDiskPath, type AgentPaths } from './paths.js';

/** The folder of a pool where deleted VMs' kept disks go, beside the `vms` folder it holds. */
export function keptDisksDir(paths: AgentPaths, pool: AgentVmSpec['pool']): string {
  const root = pool === 'shared' ? paths.sharedPoolDir : null;
  return join(root ?? paths.agentDir, 'kept-disks');
}

/**
 * Moves the disk of a VM being deleted to `kept-disks/<name>-<id>/` in the pool it lives in (a
 * rename: no copy, and never across filesystems), and says where it went. The disk is found
 * through vmDiskPath, the one place that knows where a VM's disk lives. A disk already moved by
 * an earlier attempt of the same delete is reported again; no disk at all gives an empty list.
 */
export async function keepVmDisk(
  paths: AgentPaths,
  spec: Pick<AgentVmSpec, 'id' | 'pool' | 'name'>,
): Promise<KeptDisk[]> {
  const disk = vmDiskPath(paths, spec);
  const dir = keptDisksDir(paths, spec.pool);
  // Names are validated by the server; the id is checked by vmDiskPath. Anything else is replaced.
  const folder = join(dir, `${spec.name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${spec.id}`);
  const kept = join(folder, basename(disk));
  if (!(await exists(disk))) return earlierKept(dir, spec.id);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await rename(disk, kept);
  return [await describe(kept)];
}

async function earlierKept(dir: string, id: string): Promise<KeptDisk[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  const kept: KeptDisk[] = [];
  for (const entry of entries.filter((name) => name.endsWith(`-${id}`)).sort()) {
    const files = await readdir(join(dir, entry)).catch(() => [] as string[]);
    for (const file of files.sort()) kept.push(await describe(join(dir, entry, file)));
  }
  return kept;
}

async function describe(path: string): Promise<KeptDisk> {
  const info = await imageInfo(path);
  // An overlay still reads its base image: say which, so it is not deleted by mistake.
  return { path, backingFile: info.backingFile };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
