import { sql, type CompiledQuery, type Kysely, type Selectable } from 'kysely';
import type {
  RestartPolicy,
  StoragePool,
  Vm,
  VmDesiredState,
  VmPlacement,
  VmState,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';
import {
  appendEvent,
  lockEvents,
  now,
  parseJson,
  write,
  type Scope,
  type StoreContext,
} from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { StaleVersionError } from '../errors.js';
import type { Tables, VmsTable } from '../schema.js';
import { DEFAULT_PROJECT, projectIdOf } from './projects.js';

export interface NewVm {
  /** Project name. */
  project: string;
  name: string;
  imageId: string;
  hostId?: string | null;
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
  kernelArgs?: string;
  labels?: Record<string, string>;
  /** Default empty. */
  description?: string;
  /** Default `never`. */
  restartPolicy?: RestartPolicy;
  /** Default `local`. */
  pool?: StoragePool;
  /** Placement rules the VM keeps (group, affinity, selector); default none. */
  placement?: VmPlacement;
  /** Default `creating`. */
  state?: VmState;
  /** The template this VM's disk is a linked clone of. */
  baseVmId?: string | null;
  desiredState: VmDesiredState;
  stateReason?: string | null;
}

/** The fields a write may change; absent fields keep their value, `null` clears a nullable one. */
export interface VmChanges {
  state?: VmState;
  desiredState?: VmDesiredState;
  hostId?: string | null;
  cpus?: number;
  memoryMiB?: number;
  diskGiB?: number;
  kernelArgs?: string;
  labels?: Record<string, string>;
  stateReason?: string | null;
  description?: string;
  restartPolicy?: RestartPolicy;
  restarts?: number;
  lastRestartAt?: string | null;
  /** Only ever set, never cleared: a template stays one. */
  template?: boolean;
}

export interface VmListFilter {
  /** Project name. */
  project?: string;
  /** Only VMs of these projects (by name): what the caller may see. */
  projects?: readonly string[];
  state?: VmState;
  /** Host id or name. */
  host?: string;
  /** Only VMs carrying every one of these labels with exactly this value. */
  labels?: Record<string, string>;
  /** Default 100, at most 1000. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface VmPageResult {
  items: Vm[];
  /** Null on the last page. */
  nextCursor: string | null;
}

export interface VmRepository {
  /** Throws VM_NAME_TAKEN when the project has a VM of that name, PROJECT_NOT_FOUND. */
  create(vm: NewVm): Promise<Vm>;
  /** An id matches in any project; a name only within `project` (default project if undefined). */
  get(project: string | undefined, idOrName: string): Promise<Vm | undefined>;
  /** Ordered by creation, oldest first; the cursor is stable while rows are added or removed. */
  list(filter?: VmListFilter): Promise<VmPageResult>;
  /** The ids of the page `list` answers for `filter`, and its next cursor, without the VMs. */
  listIds(filter?: VmListFilter): Promise<{ ids: string[]; nextCursor: string | null }>;
  /** The VMs with these ids, in no particular order; ids that do not exist are left out. */
  getMany(ids: readonly string[]): Promise<Vm[]>;
  /**
   * Applies the changes and increments the version. With `expectedVersion`, throws
   * StaleVersionError when the stored version differs. Undefined when the VM does not exist.
   */
  update(id: string, changes: VmChanges, expectedVersion?: number): Promise<Vm | undefined>;
  /** Returns the VM as it was, or undefined when it did not exist. */
  delete(id: string): Promise<Vm | undefined>;
  /** How many VMs are in each observed state (states without VMs are absent). */
  countByState(): Promise<Record<string, number>>;
  /** What every placed VM takes from its host, for the scheduler's snapshot. */
  allocations(): Promise<VmAllocation[]>;
}

/** One placed VM as the scheduler counts it. */
export interface VmAllocation {
  id: string;
  project: string;
  hostId: string;
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
  placement: VmPlacement;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export function createVmRepository(ctx: StoreContext, scope: Scope): VmRepository {
  // A VM by id is the read the API makes most: its query is built and compiled once.
  let byId: CompiledQuery<VmRow> | undefined;
  const vmById = (id: string): CompiledQuery<VmRow> => {
    byId ??= selectVms(scope.db).where('vms.id', '=', id).compile();
    if (byId.parameters.length !== 1) throw new Error('a VM by id takes exactly one parameter');
    return { ...byId, parameters: [id] };
  };
  return {
    async countByState() {
      const rows = await scope.db
        .selectFrom('vms')
        .select((eb) => ['state', eb.fn.countAll().as('n')])
        .groupBy('state')
        .execute();
      return Object.fromEntries(rows.map((row) => [row.state, Number(row.n)]));
    },

    async allocations() {
      const rows = await scope.db
        .selectFrom('vms')
        .innerJoin('projects', 'projects.id', 'vms.project_id')
        .select([
          'vms.id',
          'projects.name as project',
          'vms.host_id',
          'vms.cpus',
          'vms.memory_mib',
          'vms.disk_gib',
          'vms.placement',
        ])
        .where('vms.host_id', 'is not', null)
        .execute();
      return rows.map((row) => ({
        id: row.id,
        project: row.project,
        hostId: row.host_id ?? '',
        cpus: row.cpus,
        memoryMiB: row.memory_mib,
        diskGiB: row.disk_gib,
        placement: parseJson<VmPlacement>(row.placement),
      }));
    },

    create(vm) {
      return write(ctx, scope, async (w) => {
        await lockEvents(ctx, w);
        const at = now(ctx);
        // The unique constraint decides, not a pre-check: two creates racing for one name
        // cannot both pass. DO NOTHING keeps an enclosing PostgreSQL transaction usable.
        const row = await w.db
          .insertInto('vms')
          .values({
            id: ctx.newId(),
            name: vm.name,
            project_id: await projectIdOf(w, vm.project),
            state: vm.state ?? 'creating',
            desired_state: vm.desiredState,
            host_id: vm.hostId ?? null,
            image_id: vm.imageId,
            cpus: vm.cpus,
            memory_mib: vm.memoryMiB,
            disk_gib: vm.diskGiB,
            kernel_args: vm.kernelArgs ?? '',
            labels: JSON.stringify(vm.labels ?? {}),
            state_reason: vm.stateReason ?? null,
            description: vm.description ?? '',
            restart_policy: vm.restartPolicy ?? 'never',
            storage_pool: vm.pool ?? 'local',
            placement: JSON.stringify(vm.placement ?? {}),
            base_vm_id: vm.baseVmId ?? null,
            version: 1,
            created_at: at,
            updated_at: at,
          })
          .onConflict((oc) => oc.columns(['project_id', 'name']).doNothing())
          .returning('id')
          .executeTakeFirst();
        if (!row) {
          throw new DomainError(
            'VM_NAME_TAKEN',
            `a VM named ${vm.name} already exists in project ${vm.project}`,
            { name: vm.name, project: vm.project },
          );
        }
        const created = await mustGet(w.db, row.id);
        await appendEvent(ctx, w, {
          type: 'vm.created',
          project: created.project,
          subject: { kind: 'vm', id: created.id },
          data: created,
        });
        return created;
      });
    },

    async get(project, idOrName) {
      const row =
        (await scope.db.executeQuery(vmById(idOrName))).rows[0] ??
        (await selectVms(scope.db)
          .where('projects.name', '=', project ?? DEFAULT_PROJECT)
          .where('vms.name', '=', idOrName)
          .executeTakeFirst());
      return row && toVm(row);
    },

    async list(filter = {}) {
      const page = pageOf(filter);
      if (page === undefined) return { items: [], nextCursor: null };
      const rows = await page.query
        .innerJoin('projects', 'projects.id', 'vms.project_id')
        .innerJoin('images', 'images.id', 'vms.image_id')
        .leftJoin('hosts', 'hosts.id', 'vms.host_id')
        .selectAll('vms')
        .select([
          'projects.name as project_name',
          'images.name as image_name',
          'hosts.name as host_name',
        ])
        .execute();
      const items = rows.slice(0, page.limit).map(toVm);
      const last = items.at(-1);
      return {
        items,
        nextCursor: rows.length > page.limit && last ? encodeCursor(last.createdAt, last.id) : null,
      };
    },

    async listIds(filter = {}) {
      const page = pageOf(filter);
      if (page === undefined) return { ids: [], nextCursor: null };
      // The sort key alone: an index read, without the rows of the VMs.
      const rows = await page.query.select(['vms.id', 'vms.created_at']).execute();
      const last = rows[page.limit - 1];
      return {
        ids: rows.slice(0, page.limit).map((row) => row.id),
        nextCursor:
          rows.length > page.limit && last ? encodeCursor(last.created_at, last.id) : null,
      };
    },

    async getMany(ids) {
      if (ids.length === 0) return [];
      const rows = await selectVms(scope.db).where('vms.id', 'in', ids).execute();
      return rows.map(toVm);
    },

    update(id, changes, expectedVersion) {
      return write(ctx, scope, async (w) => {
        await lockEvents(ctx, w);
        let query = w.db
          .updateTable('vms')
          .set((eb) => ({
            state: changes.state,
            desired_state: changes.desiredState,
            host_id: changes.hostId,
            cpus: changes.cpus,
            memory_mib: changes.memoryMiB,
            disk_gib: changes.diskGiB,
            kernel_args: changes.kernelArgs,
            labels: changes.labels && JSON.stringify(changes.labels),
            state_reason: changes.stateReason,
            description: changes.description,
            restart_policy: changes.restartPolicy,
            restarts: changes.restarts,
            last_restart_at: changes.lastRestartAt,
            template: changes.template === undefined ? undefined : changes.template ? 1 : 0,
            version: eb('version', '+', 1),
            updated_at: now(ctx),
          }))
          .where('id', '=', id);
        if (expectedVersion !== undefined) query = query.where('version', '=', expectedVersion);
        const result = await query.executeTakeFirst();
        if (result.numUpdatedRows === 0n) {
          const current = await w.db
            .selectFrom('vms')
            .select('version')
            .where('id', '=', id)
            .executeTakeFirst();
          if (!current || expectedVersion === undefined) return undefined;
          throw new StaleVersionError('vm', id, expectedVersion, current.version);
        }
        const updated = await mustGet(w.db, id);
        await appendEvent(ctx, w, {
          type: 'vm.updated',
          project: updated.project,
          subject: { kind: 'vm', id },
          data: updated,
        });
        return updated;
      });
    },

    delete(id) {
      return write(ctx, scope, async (w) => {
        await lockEvents(ctx, w);
        const row = await selectVms(w.db).where('vms.id', '=', id).executeTakeFirst();
        if (!row) return undefined;
        await w.db.deleteFrom('vms').where('id', '=', id).execute();
        const deleted = toVm(row);
        await appendEvent(ctx, w, {
          type: 'vm.deleted',
          project: deleted.project,
          subject: { kind: 'vm', id },
          data: { id, name: deleted.name },
        });
        return deleted;
      });
    },
  };

  /** A page's query, filtered, ordered and limited, before its columns; undefined when empty. */
  function pageOf(filter: VmListFilter) {
    const limit = Math.min(Math.max(filter.limit ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
    // No joins: the admin's page of ids is read from the (created_at, id) index alone.
    let query = scope.db.selectFrom('vms');
    const { project, projects, host } = filter;
    if (project !== undefined) {
      query = query.where('vms.project_id', 'in', (eb) =>
        eb.selectFrom('projects').select('projects.id').where('projects.name', '=', project),
      );
    }
    if (projects !== undefined) {
      if (projects.length === 0) return undefined;
      query = query.where('vms.project_id', 'in', (eb) =>
        eb.selectFrom('projects').select('projects.id').where('projects.name', 'in', projects),
      );
    }
    if (filter.state !== undefined) query = query.where('vms.state', '=', filter.state);
    if (host !== undefined) {
      query = query.where('vms.host_id', 'in', (eb) =>
        eb
          .selectFrom('hosts')
          .select('hosts.id')
          .where((h) => h.or([h('hosts.id', '=', host), h('hosts.name', '=', host)])),
      );
    }
    for (const [key, value] of Object.entries(filter.labels ?? {})) {
      // Labels are JSON text: each dialect looks inside with its own JSON functions.
      query = query.where(
        ctx.dialect === 'postgres'
          ? sql<boolean>`(vms.labels::jsonb ->> cast(${key} as text)) = cast(${value} as text)`
          : sql<boolean>`exists (select 1 from json_each(vms.labels) where json_each.key = ${key} and json_each.value = ${value})`,
      );
    }
    if (filter.cursor !== undefined) {
      const [createdAt, id] = decodeCursor(filter.cursor);
      query = query.where((eb) =>
        eb(eb.refTuple('vms.created_at', 'vms.id'), '>', eb.tuple(createdAt, id)),
      );
    }
    // One row more than asked tells whether there is a next page.
    return {
      query: query
        .orderBy('vms.created_at')
        .orderBy('vms.id')
        .limit(limit + 1),
      limit,
    };
  }
}

function selectVms(db: Kysely<Tables>) {
  return db
    .selectFrom('vms')
    .innerJoin('projects', 'projects.id', 'vms.project_id')
    .innerJoin('images', 'images.id', 'vms.image_id')
    .leftJoin('hosts', 'hosts.id', 'vms.host_id')
    .selectAll('vms')
    .select([
      'projects.name as project_name',
      'images.name as image_name',
      'hosts.name as host_name',
    ]);
}

async function mustGet(db: Kysely<Tables>, id: string): Promise<Vm> {
  return toVm(await selectVms(db).where('vms.id', '=', id).executeTakeFirstOrThrow());
}

type VmRow = Selectable<VmsTable> & {
  project_name: string;
  image_name: string;
  host_name: string | null;
};

function toVm(row: VmRow): Vm {
  return {
    id: row.id,
    name: row.name,
    project: row.project_name,
    state: row.state as VmState,
    desiredState: row.desired_state as VmDesiredState,
    host: row.host_name,
    image: row.image_name,
    imageId: row.image_id,
    description: row.description,
    cpus: row.cpus,
    memoryMiB: row.memory_mib,
    diskGiB: row.disk_gib,
    kernelArgs: row.kernel_args,
    labels: parseJson<Record<string, string>>(row.labels),
    stateReason: row.state_reason,
    restartPolicy: row.restart_policy as RestartPolicy,
    pool: row.storage_pool as StoragePool,
    placement: parseJson<VmPlacement>(row.placement),
    restarts: row.restarts,
    lastRestartAt: row.last_restart_at,
    template: row.template === 1,
    baseVm: row.base_vm_id,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
