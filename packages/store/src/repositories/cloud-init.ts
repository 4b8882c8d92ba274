import type { AgentCloudInit } from '@novacron/api';
import { now, parseJson, type Scope, type StoreContext } from '../context.js';

/** A VM's cloud-init data, kept beside its row and removed with it. */
export interface CloudInitRepository {
  /** Sets (or replaces) the VM's cloud-init data. */
  put(vmId: string, data: AgentCloudInit): Promise<void>;
  get(vmId: string): Promise<AgentCloudInit | undefined>;
}

export function createCloudInitRepository(ctx: StoreContext, scope: Scope): CloudInitRepository {
  const { db } = scope;
  return {
    async put(vmId, data) {
      const json = JSON.stringify(data);
      await db
        .insertInto('vm_cloud_init')
        .values({ vm_id: vmId, data: json, created_at: now(ctx) })
        .onConflict((oc) => oc.column('vm_id').doUpdateSet({ data: json }))
        .execute();
    },
    async get(vmId) {
      const row = await db
        .selectFrom('vm_cloud_init')
        .select('data')
        .where('vm_id', '=', vmId)
        .executeTakeFirst();
      return row === undefined ? undefined : parseJson<AgentCloudInit>(row.data);
    },
  };
}
