import type { Selectable } from 'kysely';
import { now, toIso, write, type Scope, type StoreContext } from '../context.js';
import type { SessionsTable } from '../schema.js';
import type { User } from './users.js';

/** A login: the hash of its refresh token, never the token itself. */
export interface Session {
  id: string;
  userId: string;
  refreshTokenHash: string;
  expiresAt: string;
  revokedAt: string | null;
  createdAt: string;
}

export interface NewSession {
  userId: string;
  refreshTokenHash: string;
  expiresAt: Date | string;
}

export interface SessionRepository {
  create(session: NewSession): Promise<Session>;
  get(id: string): Promise<Session | undefined>;
  /** Returns the session whatever its state; the caller checks expiry and revocation. */
  getByRefreshTokenHash(hash: string): Promise<Session | undefined>;
  /** Marks the session revoked; false when it does not exist or was already revoked. */
  revoke(id: string): Promise<boolean>;
  /**
   * Swaps the refresh token of a live session: false when `oldHash` is no longer its token (a
   * concurrent rotation won) or the session is revoked. The old hash is kept to spot its reuse.
   */
  rotate(id: string, oldHash: string, newHash: string): Promise<boolean>;
  /** The session a refresh token was rotated away from, if it was. */
  getByRotatedHash(hash: string): Promise<Session | undefined>;
  /** The session and its user in one read: what authenticating a request needs. */
  getWithUser(id: string): Promise<{ session: Session; user: User } | undefined>;
  /** Revokes every open session of the user (a new password); how many there were. */
  revokeAllOf(userId: string): Promise<number>;
}

export function createSessionRepository(ctx: StoreContext, scope: Scope): SessionRepository {
  const { db } = scope;
  return {
    async create(session) {
      const row = await db
        .insertInto('sessions')
        .values({
          id: ctx.newId(),
          user_id: session.userId,
          refresh_token_hash: session.refreshTokenHash,
          expires_at: toIso(session.expiresAt),
          revoked_at: null,
          created_at: now(ctx),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toSession(row);
    },

    async get(id) {
      const row = await db
        .selectFrom('sessions')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row && toSession(row);
    },

    async getByRefreshTokenHash(hash) {
      const row = await db
        .selectFrom('sessions')
        .selectAll()
        .where('refresh_token_hash', '=', hash)
        .executeTakeFirst();
      return row && toSession(row);
    },

    rotate(id, oldHash, newHash) {
      return write(ctx, scope, async (w) => {
        const result = await w.db
          .updateTable('sessions')
          .set({ refresh_token_hash: newHash })
          .where('id', '=', id)
          .where('refresh_token_hash', '=', oldHash)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) return false;
        await w.db
          .insertInto('rotated_refresh_tokens')
          .values({ token_hash: oldHash, session_id: id, rotated_at: now(ctx) })
          .execute();
        return true;
      });
    },

    async getByRotatedHash(hash) {
      const row = await db
        .selectFrom('rotated_refresh_tokens')
        .innerJoin('sessions', 'sessions.id', 'rotated_refresh_tokens.session_id')
        .selectAll('sessions')
        .where('rotated_refresh_tokens.token_hash', '=', hash)
        .executeTakeFirst();
      return row && toSession(row);
    },

    async getWithUser(id) {
      const row = await db
        .selectFrom('sessions')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .selectAll('sessions')
        .select([
          'users.username as username',
          'users.password_hash as password_hash',
          'users.role as role',
          'users.created_at as user_created_at',
        ])
        .where('sessions.id', '=', id)
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        session: toSession(row),
        user: {
          id: row.user_id,
          username: row.username,
          passwordHash: row.password_hash,
          role: row.role,
          createdAt: row.user_created_at,
        },
      };
    },

    async revokeAllOf(userId) {
      const result = await db
        .updateTable('sessions')
        .set({ revoked_at: now(ctx) })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async revoke(id) {
      const result = await db
        .updateTable('sessions')
        .set({ revoked_at: now(ctx) })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },
  };
}

function toSession(row: Selectable<SessionsTable>): Session {
  return {
    id: row.id,
    userId: row.user_id,
    refreshTokenHash: row.refresh_token_hash,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    createdAt: row.created_at,
  };
}
