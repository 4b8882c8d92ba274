import type { Kysely, Selectable } from 'kysely';
import { now, toIso, type Scope, type StoreContext } from '../context.js';
import type { ApiTokensTable, Tables } from '../schema.js';
import { projectIdOf } from './projects.js';

/** An API token: only the hash of its secret is kept. */
export interface StoredApiToken {
  id: string;
  name: string;
  userId: string;
  username: string;
  project: string;
  role: string;
  tokenHash: string;
  expiresAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
}

export interface NewApiToken {
  name: string;
  userId: string;
  project: string;
  role: string;
  tokenHash: string;
  expiresAt: Date | string;
}

export interface ApiTokenRepository {
  /** Throws PROJECT_NOT_FOUND. */
  create(token: NewApiToken): Promise<StoredApiToken>;
  get(id: string): Promise<StoredApiToken | undefined>;
  /** Whatever its state; the caller checks expiry and revocation. */
  getByHash(hash: string): Promise<StoredApiToken | undefined>;
  /** Every token, or those `userId` created; newest first. */
  list(userId?: string): Promise<StoredApiToken[]>;
  /** False when it does not exist or was already revoked. */
  revoke(id: string): Promise<boolean>;
  markUsed(id: string): Promise<void>;
}

export function createApiTokenRepository(ctx: StoreContext, scope: Scope): ApiTokenRepository {
  const { db } = scope;
  return {
    async create(token) {
      const id = ctx.newId();
      await db
        .insertInto('api_tokens')
        .values({
          id,
          name: token.name,
          user_id: token.userId,
          project_id: await projectIdOf(scope, token.project),
          role: token.role,
          token_hash: token.tokenHash,
          expires_at: toIso(token.expiresAt),
          revoked_at: null,
          last_used_at: null,
          created_at: now(ctx),
        })
        .execute();
      return toToken(
        await selectTokens(db).where('api_tokens.id', '=', id).executeTakeFirstOrThrow(),
      );
    },

    async get(id) {
      const row = await selectTokens(db).where('api_tokens.id', '=', id).executeTakeFirst();
      return row && toToken(row);
    },

    async getByHash(hash) {
      const row = await selectTokens(db)
        .where('api_tokens.token_hash', '=', hash)
        .executeTakeFirst();
      return row && toToken(row);
    },

    async list(userId) {
      let query = selectTokens(db);
      if (userId !== undefined) query = query.where('api_tokens.user_id', '=', userId);
      const rows = await query
        .orderBy('api_tokens.created_at', 'desc')
        .orderBy('api_tokens.id', 'desc')
        .execute();
      return rows.map(toToken);
    },

    async revoke(id) {
      const result = await db
        .updateTable('api_tokens')
        .set({ revoked_at: now(ctx) })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async markUsed(id) {
      await db
        .updateTable('api_tokens')
        .set({ last_used_at: now(ctx) })
        .where('id', '=', id)
        .execute();
    },
  };
}

function selectTokens(db: Kysely<Tables>) {
  return db
    .selectFrom('api_tokens')
    .innerJoin('projects', 'projects.id', 'api_tokens.project_id')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .selectAll('api_tokens')
    .select(['projects.name as project_name', 'users.username as username']);
}

function toToken(
  row: Selectable<ApiTokensTable> & { project_name: string; username: string },
): StoredApiToken {
  return {
    id: row.id,
    name: row.name,
    userId: row.user_id,
    username: row.username,
    project: row.project_name,
    role: row.role,
    tokenHash: row.token_hash,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
    createdAt: row.created_at,
  };
}
