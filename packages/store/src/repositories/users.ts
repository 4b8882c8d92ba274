import type { Selectable } from 'kysely';
import { DomainError } from '@novacron/domain';
import { now, type Scope, type StoreContext } from '../context.js';
import type { UsersTable } from '../schema.js';
import { projectIdOf } from './projects.js';

export interface User {
  id: string;
  username: string;
  passwordHash: string;
  /**
   * The cluster-wide role: `admin` (admin of the cluster and every project) or `none`; roles in
   * projects are bindings. @novacron/auth owns what roles exist and what they allow.
   */
  role: string;
  createdAt: string;
}

export interface NewUser {
  username: string;
  passwordHash: string;
  role: string;
}

export interface UserRepository {
  /** Throws DomainError VALIDATION_FAILED when the username is taken. */
  create(user: NewUser): Promise<User>;
  get(id: string): Promise<User | undefined>;
  getByUsername(username: string): Promise<User | undefined>;
  count(): Promise<number>;
  /** By username. */
  list(): Promise<User[]>;
  /** Removes the user, its sessions, tokens and bindings; false when it did not exist. */
  delete(id: string): Promise<boolean>;
  setPasswordHash(id: string, passwordHash: string): Promise<boolean>;
  /** The user's roles per project, by project name. */
  bindings(userId: string): Promise<{ project: string; role: string }[]>;
  /** Binds (or rebinds) the user to `project` with `role`; throws PROJECT_NOT_FOUND. */
  bind(userId: string, project: string, role: string): Promise<void>;
  /** Removes the user's role in `project`; false when it had none; throws PROJECT_NOT_FOUND. */
  unbind(userId: string, project: string): Promise<boolean>;
}

export function createUserRepository(ctx: StoreContext, scope: Scope): UserRepository {
  const { db } = scope;
  return {
    async create(user) {
      // ON CONFLICT DO NOTHING lets the unique constraint decide without aborting an enclosing
      // PostgreSQL transaction the way a caught unique violation would.
      const row = await db
        .insertInto('users')
        .values({
          id: ctx.newId(),
          username: user.username,
          password_hash: user.passwordHash,
          role: user.role,
          created_at: now(ctx),
        })
        .onConflict((oc) => oc.column('username').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!row) {
        throw new DomainError('VALIDATION_FAILED', `user ${user.username} already exists`, {
          field: 'username',
          username: user.username,
        });
      }
      return toUser(row);
    },

    async get(id) {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toUser(row);
    },

    async getByUsername(username) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('username', '=', username)
        .executeTakeFirst();
      return row && toUser(row);
    },

    async list() {
      const rows = await db.selectFrom('users').selectAll().orderBy('username').execute();
      return rows.map(toUser);
    },

    async delete(id) {
      const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async setPasswordHash(id, passwordHash) {
      const result = await db
        .updateTable('users')
        .set({ password_hash: passwordHash })
        .where('id', '=', id)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async bindings(userId) {
      return db
        .selectFrom('role_bindings')
        .innerJoin('projects', 'projects.id', 'role_bindings.project_id')
        .select(['projects.name as project', 'role_bindings.role as role'])
        .where('role_bindings.user_id', '=', userId)
        .orderBy('projects.name')
        .execute();
    },

    async bind(userId, project, role) {
      const projectId = await projectIdOf(scope, project);
      await db
        .insertInto('role_bindings')
        .values({ user_id: userId, project_id: projectId, role, created_at: now(ctx) })
        .onConflict((oc) => oc.columns(['user_id', 'project_id']).doUpdateSet({ role }))
        .execute();
    },

    async unbind(userId, project) {
      const projectId = await projectIdOf(scope, project);
      const result = await db
        .deleteFrom('role_bindings')
        .where('user_id', '=', userId)
        .where('project_id', '=', projectId)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async count() {
      const row = await db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}

function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    role: row.role,
    createdAt: row.created_at,
  };
}
