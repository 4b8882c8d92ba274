import type { Selectable } from 'kysely';
import { now, toIso, type Scope, type StoreContext } from '../context.js';
import type { JoinTokensTable } from '../schema.js';

/** A one-time token that lets one machine join as the host `hostName`; its secret is not kept. */
export interface JoinToken {
  id: string;
  hostName: string;
  expiresAt: string;
  usedAt: string | null;
  createdAt: string;
}

export interface NewJoinToken {
  /** SHA-256 of the token's secret. */
  tokenHash: string;
  hostName: string;
  expiresAt: Date | string;
}

export interface JoinTokenRepository {
  create(token: NewJoinToken): Promise<JoinToken>;
  /** The token with this hash whatever its state: the caller checks expiry and use. */
  getByHash(tokenHash: string): Promise<JoinToken | undefined>;
  /**
   * Uses the token: succeeds only when it is unused and unexpired at `at`. One conditional
   * UPDATE, so of any number of concurrent calls exactly one gets the token; the others (and
   * every later call) get undefined.
   */
  consume(tokenHash: string, at: Date | string): Promise<JoinToken | undefined>;
  /** Tokens still usable at `at`, oldest first. */
  listPending(at: Date | string): Promise<JoinToken[]>;
  /** Deletes tokens used or expired before `before`; answers how many. */
  prune(before: Date | string): Promise<number>;
}

export function createJoinTokenRepository(ctx: StoreContext, scope: Scope): JoinTokenRepository {
  const { db } = scope;
  return {
    async create(token) {
      const row = await db
        .insertInto('join_tokens')
        .values({
          id: ctx.newId(),
          token_hash: token.tokenHash,
          host_name: token.hostName,
          expires_at: toIso(token.expiresAt),
          used_at: null,
          created_at: now(ctx),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toJoinToken(row);
    },

    async getByHash(tokenHash) {
      const row = await db
        .selectFrom('join_tokens')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .executeTakeFirst();
      return row && toJoinToken(row);
    },

    async consume(tokenHash, at) {
      const time = toIso(at);
      const row = await db
        .updateTable('join_tokens')
        .set({ used_at: time })
        .where('token_hash', '=', tokenHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', time)
        .returningAll()
        .executeTakeFirst();
      return row && toJoinToken(row);
    },

    async listPending(at) {
      const rows = await db
        .selectFrom('join_tokens')
        .selectAll()
        .where('used_at', 'is', null)
        .where('expires_at', '>', toIso(at))
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map(toJoinToken);
    },

    async prune(before) {
      const time = toIso(before);
      const result = await db
        .deleteFrom('join_tokens')
        .where((eb) => eb.or([eb('used_at', '<', time), eb('expires_at', '<', time)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

function toJoinToken(row: Selectable<JoinTokensTable>): JoinToken {
  return {
    id: row.id,
    hostName: row.host_name,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    createdAt: row.created_at,
  };
}
