import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError } from '@novacron/domain';

/**
 * Checks the shared pool at start: it must exist already (an NFS share not mounted must not be
 * mistaken for an empty pool, so the agent never creates it), then holds `vms/`.
 */
export async function checkSharedPool(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    throw new DomainError(
      'HOST_PREREQUISITE_MISSING',
      `the shared pool ${dir} (NOVACRON_SHARED_POOL_DIR) is not a directory on this host: mount it first`,
      { setting: 'NOVACRON_SHARED_POOL_DIR', dir },
    );
  }
  await mkdir(join(dir, 'vms'), { recursive: true });
}
