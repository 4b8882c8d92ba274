import type { Selectable } from 'kysely';
import { DomainError } from '@novacron/domain';
import { now, type Scope, type StoreContext } from '../context.js';
import type { ProjectsTable } from '../schema.js';

/** The project every resource belongs to unless told otherwise; created by `migrate()`. */
export const DEFAULT_PROJECT = 'default';

/** Limits of a project; null means no limit. */
export interface ProjectQuotaValues {
  maxVcpus: number | null;
  maxMemoryMiB: number | null;
  maxDiskGiB: number | null;
  maxVms: number | null;
}

export interface Project {
  id: string;
  name: string;
  quotas: ProjectQuotaValues;
  createdAt: string;
}

/** What the VMs of a project hold. */
export interface ProjectUsageValues {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  vms: number;
}

export interface ProjectRepository {
  /** Creates the project if it does not exist (race-free), and returns it. */
  ensure(name: string): Promise<Project>;
  get(idOrName: string): Promise<Project | undefined>;
  /** Throws PROJECT_NAME_TAKEN. */
  create(name: string, quotas?: Partial<ProjectQuotaValues>): Promise<Project>;
  /** By name. */
  list(): Promise<Project[]>;
  /** Changes the given quotas (null lifts one); undefined when the project does not exist. */
  setQuotas(name: string, quotas: Partial<ProjectQuotaValues>): Promise<Project | undefined>;
  /** Throws PROJECT_NOT_EMPTY while VMs or images belong to it; false when it did not exist. */
  delete(name: string): Promise<boolean>;
  usage(name: string): Promise<ProjectUsageValues>;
  /**
   * Inside a transaction, holds the project's row until commit, so that writers checking its
   * quotas take turns (PostgreSQL row lock; SQLite transactions already run one at a time).
   */
  lock(name: string): Promise<void>;
}

export function createProjectRepository(ctx: StoreContext, scope: Scope): ProjectRepository {
  const { db } = scope;
  const byName = async (name: string) =>
    db.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst();

  return {
    async ensure(name) {
      await db
        .insertInto('projects')
        .values({ id: ctx.newId(), name, created_at: now(ctx) })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      const row = await byName(name);
      if (!row) throw new Error(`project ${name} vanished after insert`);
      return toProject(row);
    },

    async create(name, quotas = {}) {
      const row = await db
        .insertInto('projects')
        .values({ id: ctx.newId(), name, created_at: now(ctx), ...quotaColumns(quotas) })
        .onConflict((oc) => oc.column('name').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!row) {
        throw new DomainError('PROJECT_NAME_TAKEN', `project ${name} already exists`, { name });
      }
      return toProject(row);
    },

    async list() {
      const rows = await db.selectFrom('projects').selectAll().orderBy('name').execute();
      return rows.map(toProject);
    },

    async setQuotas(name, quotas) {
      const columns = quotaColumns(quotas);
      if (Object.keys(columns).length > 0) {
        await db.updateTable('projects').set(columns).where('name', '=', name).execute();
      }
      const row = await byName(name);
      return row && toProject(row);
    },

    async delete(name) {
      const row = await byName(name);
      if (!row) return false;
      const [vms, images] = await Promise.all([
        db.selectFrom('vms').select('id').where('project_id', '=', row.id).limit(1).execute(),
        db.selectFrom('images').select('id').where('project_id', '=', row.id).limit(1).execute(),
      ]);
      if (vms.length > 0 || images.length > 0) {
        throw new DomainError(
          'PROJECT_NOT_EMPTY',
          `project ${name} still holds ${vms.length > 0 ? 'VMs' : 'images'}: delete them first`,
          { name },
        );
      }
      const result = await db.deleteFrom('projects').where('id', '=', row.id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async lock(name) {
      if (ctx.dialect !== 'postgres') return;
      await db.selectFrom('projects').select('id').where('name', '=', name).forUpdate().execute();
    },

    async usage(name) {
      const row = await db
        .selectFrom('vms')
        .innerJoin('projects', 'projects.id', 'vms.project_id')
        .where('projects.name', '=', name)
        .select((eb) => [
          eb.fn.coalesce(eb.fn.sum<number>('vms.cpus'), eb.lit(0)).as('vcpus'),
          eb.fn.coalesce(eb.fn.sum<number>('vms.memory_mib'), eb.lit(0)).as('memory'),
          eb.fn.coalesce(eb.fn.sum<number>('vms.disk_gib'), eb.lit(0)).as('disk'),
          eb.fn.countAll<number>().as('vms'),
        ])
        .executeTakeFirstOrThrow();
      // Data disks (ADR 23) count towards the disk quota too.
      const data = await db
        .selectFrom('vm_hardware')
        .innerJoin('vms', 'vms.id', 'vm_hardware.vm_id')
        .innerJoin('projects', 'projects.id', 'vms.project_id')
        .where('projects.name', '=', name)
        .select((eb) =>
          eb.fn.coalesce(eb.fn.sum<number>('vm_hardware.data_disk_gib'), eb.lit(0)).as('disk'),
        )
        .executeTakeFirstOrThrow();
      return {
        vcpus: Number(row.vcpus),
        memoryMiB: Number(row.memory),
        diskGiB: Number(row.disk) + Number(data.disk),
        vms: Number(row.vms),
      };
    },

    async get(idOrName) {
      const row =
        (await db
          .selectFrom('projects')
          .selectAll()
          .where('id', '=', idOrName)
          .executeTakeFirst()) ?? (await byName(idOrName));
      return row && toProject(row);
    },
  };
}

/** Resolves a project name to its id inside a write; a missing project is the caller's error. */
export async function projectIdOf(scope: Scope, name: string): Promise<string> {
  const row = await scope.db
    .selectFrom('projects')
    .select('id')
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) throw new DomainError('PROJECT_NOT_FOUND', `project ${name} not found`, { name });
  return row.id;
}

function toProject(row: Selectable<ProjectsTable>): Project {
  return {
    id: row.id,
    name: row.name,
    quotas: {
      maxVcpus: row.max_vcpus,
      maxMemoryMiB: row.max_memory_mib,
      maxDiskGiB: row.max_disk_gib,
      maxVms: row.max_vms,
    },
    createdAt: row.created_at,
  };
}

function quotaColumns(quotas: Partial<ProjectQuotaValues>) {
  return {
    ...(quotas.maxVcpus === undefined ? {} : { max_vcpus: quotas.maxVcpus }),
    ...(quotas.maxMemoryMiB === undefined ? {} : { max_memory_mib: quotas.maxMemoryMiB }),
    ...(quotas.maxDiskGiB === undefined ? {} : { max_disk_gib: quotas.maxDiskGiB }),
    ...(quotas.maxVms === undefined ? {} : { max_vms: quotas.maxVms }),
  };
}
