import type { VmHardware } from '@novacron/api';
import { now, parseJson, type Scope, type StoreContext } from '../context.js';

/**
 * A VM's hardware beyond its size (ADR 23): headroom, live-added CPUs and DIMMs, data disks and
 * extra NICs. Kept beside the VM's row, removed with it; a VM without a row has none of it.
 */
export interface HardwareRepository {
  /** Sets (or replaces) the VM's hardware; its data disks count towards the disk quota. */
  put(vmId: string, hardware: VmHardware): Promise<void>;
  get(vmId: string): Promise<VmHardware | undefined>;
}

export function createHardwareRepository(ctx: StoreContext, scope: Scope): HardwareRepository {
  const { db } = scope;
  return {
    async put(vmId, hardware) {
      const data = JSON.stringify(hardware);
      const dataDiskGiB = hardware.disks.reduce((sum, disk) => sum + disk.sizeGiB, 0);
      const at = now(ctx);
      await db
        .insertInto('vm_hardware')
        .values({ vm_id: vmId, data, data_disk_gib: dataDiskGiB, updated_at: at })
        .onConflict((oc) =>
          oc.column('vm_id').doUpdateSet({ data, data_disk_gib: dataDiskGiB, updated_at: at }),
        )
        .execute();
    },
    async get(vmId) {
      const row = await db
        .selectFrom('vm_hardware')
        .select('data')
        .where('vm_id', '=', vmId)
        .executeTakeFirst();
      return row === undefined ? undefined : parseJson<VmHardware>(row.data);
    },
  };
}
