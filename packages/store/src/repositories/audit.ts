import type { AuditEntry } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { appendEvent, now, parseJson, write, type Scope, type StoreContext } from '../context.js';

export interface NewAuditEntry {
  actor: string | null;
  action: string;
  target?: { type: string; id?: string | null; name?: string | null } | null;
  project?: string | null;
  sourceAddress: string;
  result: string;
  details?: Record<string, unknown>;
}

export interface AuditQueryFilter {
  /** Actor username. */
  actor?: string;
  action?: string;
  /** ISO time, inclusive. */
  since?: string;
  /** ISO time, exclusive. */
  until?: string;
  /** Default 100, at most 1000. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/**
 * The append-only audit log: entries are inserted and read, never changed or removed (there is
 * deliberately no method for either). Each append also emits an `audit.recorded` event.
 */
export interface AuditRepository {
  append(entry: NewAuditEntry): Promise<AuditEntry>;
  /** Newest first. */
  list(filter?: AuditQueryFilter): Promise<{ items: AuditEntry[]; nextCursor: string | null }>;
}

export function createAuditRepository(ctx: StoreContext, scope: Scope): AuditRepository {
  return {
    append(entry) {
      return write(ctx, scope, async (w) => {
        const time = now(ctx);
        const target = entry.target ?? null;
        const row = await w.db
          .insertInto('audit_log')
          .values({
            time,
            actor: entry.actor,
            action: entry.action,
            target_type: target?.type ?? null,
            target_id: target?.id ?? null,
            target_name: target?.name ?? null,
            project: entry.project ?? null,
            source_address: entry.sourceAddress,
            result: entry.result,
            details: JSON.stringify(entry.details ?? {}),
          })
          .returning('seq')
          .executeTakeFirstOrThrow();
        const recorded: AuditEntry = {
          seq: Number(row.seq),
          time,
          actor: entry.actor,
          action: entry.action,
          target:
            target === null
              ? null
              : { type: target.type, id: target.id ?? null, name: target.name ?? null },
          project: entry.project ?? null,
          sourceAddress: entry.sourceAddress,
          result: entry.result,
          details: entry.details ?? {},
        };
        await appendEvent(ctx, w, {
          type: 'audit.recorded',
          project: recorded.project,
          subject: { kind: 'audit', id: String(recorded.seq) },
          data: recorded,
        });
        return recorded;
      });
    },

    async list(filter = {}) {
      const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
      let query = scope.db.selectFrom('audit_log').selectAll();
      if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
      if (filter.action !== undefined) query = query.where('action', '=', filter.action);
      if (filter.since !== undefined) query = query.where('time', '>=', filter.since);
      if (filter.until !== undefined) query = query.where('time', '<', filter.until);
      if (filter.cursor !== undefined) query = query.where('seq', '<', decodeSeq(filter.cursor));
      const rows = await query
        .orderBy('seq', 'desc')
        .limit(limit + 1)
        .execute();
      const items: AuditEntry[] = rows.slice(0, limit).map((row) => ({
        seq: Number(row.seq),
        time: row.time,
        actor: row.actor,
        action: row.action,
        target:
          row.target_type === null
            ? null
            : { type: row.target_type, id: row.target_id, name: row.target_name },
        project: row.project,
        sourceAddress: row.source_address,
        result: row.result,
        details: parseJson<Record<string, unknown>>(row.details),
      }));
      const last = items.at(-1);
      return {
        items,
        nextCursor:
          rows.length > limit && last ? Buffer.from(String(last.seq)).toString('base64url') : null,
      };
    },
  };
}

function decodeSeq(cursor: string): number {
  const seq = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(seq) || seq <= 0) {
    throw new DomainError('VALIDATION_FAILED', 'invalid list cursor', { field: 'cursor' });
  }
  return seq;
}
