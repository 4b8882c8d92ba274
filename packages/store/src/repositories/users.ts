import type { Selectable } from 'kysely';
import { DomainError } from '@novacron/domain';
import { now, type Scope, type StoreContext } from '../context.js';
import type { UsersTable } from '../schema.js';

export interface User {
  id: string;
  username: string;
  passwordHash: string;
  /** The role name; @novacron/auth owns what roles exist and what they allow. */
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
