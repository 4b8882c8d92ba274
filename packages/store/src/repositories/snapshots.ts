import type { Selectable } from 'kysely';
import type { VmSnapshot } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { now, type Scope, type StoreContext } from '../context.js';
import type { VmSnapshotsTable } from '../schema.js';

export interface NewVmSnapshot {
  vmId: string;
  name: string;
  description?: string;
  memory: boolean;
  vmState: string;
  vmStateBytes: number;
}

/**
 * The snapshots of each VM as the API lists them (the data lives in the VM's qcow2 disk), and
 * which VMs are linked clones of a template. Rows go with their VM.
 */
export interface SnapshotRepository {
  /** Throws SNAPSHOT_NAME_TAKEN when the VM has a snapshot of that name. */
  create(snapshot: NewVmSnapshot): Promise<VmSnapshot>;
  /** Oldest first. */
  list(vmId: string): Promise<VmSnapshot[]>;
  get(vmId: string, name: string): Promise<VmSnapshot | undefined>;
  /** True when there was such a snapshot. */
  delete(vmId: string, name: string): Promise<boolean>;
  count(vmId: string): Promise<number>;
  /** Names of the VMs whose disk reads from this template's (linked clones). */
  linkedClones(templateId: string): Promise<string[]>;
}

export function createSnapshotRepository(ctx: StoreContext, scope: Scope): SnapshotRepository {
  const { db } = scope;
  return {
    async create(snapshot) {
      const row = await db
        .insertInto('vm_snapshots')
        .values({
          id: ctx.newId(),
          vm_id: snapshot.vmId,
          name: snapshot.name,
          description: snapshot.description ?? '',
          memory: snapshot.memory ? 1 : 0,
          vm_state: snapshot.vmState,
          vm_state_bytes: snapshot.vmStateBytes,
          created_at: now(ctx),
        })
        // The unique (vm, name) constraint decides; DO NOTHING keeps a PostgreSQL transaction usable.
        .onConflict((oc) => oc.columns(['vm_id', 'name']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (row === undefined) {
        throw new DomainError(
          'SNAPSHOT_NAME_TAKEN',
          `the VM already has a snapshot named ${snapshot.name}`,
          { snapshot: snapshot.name },
        );
      }
      return toSnapshot(row);
    },

    async list(vmId) {
      const rows = await db
        .selectFrom('vm_snapshots')
        .selectAll()
        .where('vm_id', '=', vmId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map(toSnapshot);
    },

    async get(vmId, name) {
      const row = await db
        .selectFrom('vm_snapshots')
        .selectAll()
        .where('vm_id', '=', vmId)
        .where('name', '=', name)
        .executeTakeFirst();
      return row && toSnapshot(row);
    },

    async delete(vmId, name) {
      const result = await db
        .deleteFrom('vm_snapshots')
        .where('vm_id', '=', vmId)
        .where('name', '=', name)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async count(vmId) {
      const row = await db
        .selectFrom('vm_snapshots')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('vm_id', '=', vmId)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async linkedClones(templateId) {
      const rows = await db
        .selectFrom('vms')
        .select('name')
        .where('base_vm_id', '=', templateId)
        .orderBy('name')
        .execute();
      return rows.map((row) => row.name);
    },
  };
}

function toSnapshot(row: Selectable<VmSnapshotsTable>): VmSnapshot {
  return {
    id: row.id,
    vmId: row.vm_id,
    name: row.name,
    description: row.description,
    memory: row.memory === 1,
    vmState: row.vm_state,
    vmStateBytes: Number(row.vm_state_bytes),
    createdAt: row.created_at,
  };
}
