import type { Kysely, Selectable } from 'kysely';
import type { Accelerator, Host, HostState, LabelsPatch } from '@novacron/api';
import { mergeLabels } from '@novacron/domain';
import {
  appendEvent,
  lockEvents,
  now,
  parseJson,
  toIso,
  write,
  type Scope,
  type StoreContext,
  type WriteScope,
} from '../context.js';
import type { HostsTable, Tables } from '../schema.js';

/** What an agent reports when it registers (or re-registers after a restart). */
export interface HostRegistration {
  name: string;
  agentUrl: string;
  cpus: number;
  memoryMiB: number;
  accelerator: Accelerator | null;
  acceleratorReason: string;
  qemuVersion: string;
  /** Left as stored when absent on a re-registration. */
  labels?: Record<string, string>;
}

/** What an operator changes on a host; absent fields keep their value. */
export interface HostChanges {
  /** Merged into the labels: a string sets a key, null removes it. */
  labels?: LabelsPatch;
  enabled?: boolean;
  cordoned?: boolean;
  /** A host in maintenance (drained) takes no new VMs, like a cordoned one. */
  maintenance?: boolean;
}

export interface HostRepository {
  /** Registers the host by name, or refreshes its facts; a new host starts `ready`. */
  upsert(host: HostRegistration): Promise<Host>;
  list(): Promise<Host[]>;
  get(idOrName: string): Promise<Host | undefined>;
  /**
   * Records what the host's liveness says (`ready`, `unreachable`); `disabled` clears the
   * enabled flag instead, so a disabled host stays disabled whatever its agent reports.
   */
  setState(id: string, state: HostState): Promise<Host | undefined>;
  /** Applies an operator's changes; undefined when the host does not exist. */
  patch(id: string, changes: HostChanges): Promise<Host | undefined>;
  /** Records that the host answered; emits no event (liveness is not a change). */
  recordHeartbeat(id: string, at: Date | string): Promise<Host | undefined>;
  /**
   * Commits a placement decided on the host as it was at `version`: bumps the version when it
   * still is that, and says whether it was. Call it in the transaction that stores the VM, so two
   * placements decided on the same snapshot cannot both land (the loser decides again).
   */
  claim(id: string, version: number): Promise<boolean>;
  /** The version of each host (id -> version), read with the snapshot a placement decides on. */
  versions(): Promise<Map<string, number>>;
}

export function createHostRepository(ctx: StoreContext, scope: Scope): HostRepository {
  // Every host change goes out as host.updated, in the transaction that made it.
  const change = (
    id: string,
    set: (db: Kysely<Tables>, at: string) => Promise<{ numUpdatedRows: bigint }>,
  ) =>
    write(ctx, scope, async (w) => {
      await lockEvents(ctx, w);
      const result = await set(w.db, now(ctx));
      if (result.numUpdatedRows === 0n) return undefined;
      return published(w, id);
    });

  const published = async (w: WriteScope, id: string) => {
    const host = await getHost(w.db, id);
    if (!host) throw new Error(`host ${id} vanished inside its transaction`);
    await appendEvent(ctx, w, {
      type: 'host.updated',
      project: null,
      subject: { kind: 'host', id: host.id },
      data: host,
    });
    return host;
  };

  return {
    upsert(host) {
      return write(ctx, scope, async (w) => {
        await lockEvents(ctx, w);
        const at = now(ctx);
        const row = await w.db
          .insertInto('hosts')
          .values({
            id: ctx.newId(),
            name: host.name,
            agent_url: host.agentUrl,
            state: 'ready',
            cpus: host.cpus,
            memory_mib: host.memoryMiB,
            accelerator: host.accelerator,
            accelerator_reason: host.acceleratorReason,
            qemu_version: host.qemuVersion,
            labels: JSON.stringify(host.labels ?? {}),
            last_heartbeat_at: null,
            created_at: at,
            updated_at: at,
            version: 1,
          })
          .onConflict((oc) =>
            oc.column('name').doUpdateSet((eb) => ({
              agent_url: eb.ref('excluded.agent_url'),
              cpus: eb.ref('excluded.cpus'),
              memory_mib: eb.ref('excluded.memory_mib'),
              accelerator: eb.ref('excluded.accelerator'),
              accelerator_reason: eb.ref('excluded.accelerator_reason'),
              qemu_version: eb.ref('excluded.qemu_version'),
              ...(host.labels && { labels: eb.ref('excluded.labels') }),
              updated_at: eb.ref('excluded.updated_at'),
              version: eb('hosts.version', '+', 1),
            })),
          )
          .returning('id')
          .executeTakeFirstOrThrow();
        return published(w, row.id);
      });
    },

    async list() {
      const rows = await scope.db.selectFrom('hosts').selectAll().orderBy('name').execute();
      return rows.map(toHost);
    },

    async get(idOrName) {
      return (await getHost(scope.db, idOrName)) ?? (await getHostByName(scope.db, idOrName));
    },

    setState(id, state) {
      return change(id, (db, at) =>
        db
          .updateTable('hosts')
          .set((eb) => ({
            ...(state === 'disabled' ? { enabled: 0 } : { state }),
            updated_at: at,
            version: eb('version', '+', 1),
          }))
          .where('id', '=', id)
          .executeTakeFirst(),
      );
    },

    patch(id, changes) {
      return change(id, async (db, at) => {
        // Read and write in one transaction: a concurrent label change is not lost.
        const current = await db
          .selectFrom('hosts')
          .select('labels')
          .where('id', '=', id)
          .executeTakeFirst();
        if (!current) return { numUpdatedRows: 0n };
        return db
          .updateTable('hosts')
          .set((eb) => ({
            ...(changes.labels && {
              labels: JSON.stringify(
                mergeLabels(parseJson<Record<string, string>>(current.labels), changes.labels),
              ),
            }),
            ...(changes.enabled !== undefined && { enabled: changes.enabled ? 1 : 0 }),
            ...(changes.cordoned !== undefined && { cordoned: changes.cordoned ? 1 : 0 }),
            ...(changes.maintenance !== undefined && {
              maintenance: changes.maintenance ? 1 : 0,
            }),
            updated_at: at,
            version: eb('version', '+', 1),
          }))
          .where('id', '=', id)
          .executeTakeFirst();
      });
    },

    recordHeartbeat(id, at) {
      // Liveness, not a change: no event and no version bump, or every poll would flood the log.
      return write(ctx, scope, async (w) => {
        await w.db
          .updateTable('hosts')
          .set({ last_heartbeat_at: toIso(at) })
          .where('id', '=', id)
          .executeTakeFirst();
        return getHost(w.db, id);
      });
    },

    claim(id, version) {
      // No event: the VM written in the same transaction is the change users see.
      return write(ctx, scope, async (w) => {
        // The VM insert that follows appends an event: take the event lock first, as every writer does.
        await lockEvents(ctx, w);
        const result = await w.db
          .updateTable('hosts')
          .set((eb) => ({ version: eb('version', '+', 1) }))
          .where('id', '=', id)
          .where('version', '=', version)
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      });
    },

    async versions() {
      const rows = await scope.db.selectFrom('hosts').select(['id', 'version']).execute();
      return new Map(rows.map((row) => [row.id, row.version]));
    },
  };
}

async function getHost(db: Kysely<Tables>, id: string): Promise<Host | undefined> {
  const row = await db.selectFrom('hosts').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toHost(row);
}

async function getHostByName(db: Kysely<Tables>, name: string): Promise<Host | undefined> {
  const row = await db.selectFrom('hosts').selectAll().where('name', '=', name).executeTakeFirst();
  return row && toHost(row);
}

function toHost(row: Selectable<HostsTable>): Host {
  return {
    id: row.id,
    name: row.name,
    agentUrl: row.agent_url,
    state: row.enabled ? (row.state as HostState) : 'disabled',
    cpus: row.cpus,
    memoryMiB: row.memory_mib,
    accelerator: row.accelerator as Accelerator | null,
    acceleratorReason: row.accelerator_reason,
    qemuVersion: row.qemu_version,
    labels: parseJson<Record<string, string>>(row.labels),
    cordoned: row.cordoned !== 0,
    maintenance: row.maintenance !== 0,
    lastHeartbeatAt: row.last_heartbeat_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
