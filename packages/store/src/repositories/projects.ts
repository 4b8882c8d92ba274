import type { Selectable } from 'kysely';
import { DomainError } from '@novacron/domain';
import { now, type Scope, type StoreContext } from '../context.js';
import type { ProjectsTable } from '../schema.js';

/** The project every resource belongs to unless told otherwise; created by `migrate()`. */
export const DEFAULT_PROJECT = 'default';

export interface Project {
  id: string;
  name: string;
  createdAt: string;
}

export interface ProjectRepository {
  /** Creates the project if it does not exist (race-free), and returns it. */
  ensure(name: string): Promise<Project>;
  get(idOrName: string): Promise<Project | undefined>;
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
  return { id: row.id, name: row.name, createdAt: row.created_at };
}
