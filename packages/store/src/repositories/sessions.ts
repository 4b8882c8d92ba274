import type { Selectable } from 'kysely';
import { now, toIso, type Scope, type StoreContext } from '../context.js';
import type { SessionsTable } from '../schema.js';

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
