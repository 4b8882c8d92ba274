import type { Event, EventType } from '@novacron/api';
import { parseJson, type Scope } from '../context.js';

export interface EventQuery {
  /** Only events after this seq; 0 (the default) is from the beginning. */
  since?: number;
  types?: readonly EventType[];
  /** Project name. */
  project?: string;
  /** Default 100, at most 1000. */
  limit?: number;
}

export interface EventRepository {
  /** Committed events after `since`, in seq order (which is commit order). */
  list(query?: EventQuery): Promise<Event[]>;
  /** The newest committed seq, 0 when there is none: where a new reader starts. */
  lastSeq(): Promise<number>;
}

export function createEventRepository(scope: Scope): EventRepository {
  const { db } = scope;
  return {
    async list(query = {}) {
      const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
      let select = db
        .selectFrom('events')
        .selectAll()
        .where('seq', '>', query.since ?? 0);
      if (query.types !== undefined) {
        if (query.types.length === 0) return [];
        select = select.where('type', 'in', query.types);
      }
      if (query.project !== undefined) select = select.where('project', '=', query.project);
      const rows = await select.orderBy('seq').limit(limit).execute();
      return rows.map((row) => ({
        seq: Number(row.seq),
        type: row.type as EventType,
        time: row.time,
        project: row.project,
        subject: { kind: row.subject_kind, id: row.subject_id },
        data: parseJson<Record<string, unknown>>(row.data),
      }));
    },

    async lastSeq() {
      const row = await db
        .selectFrom('events')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .executeTakeFirst();
      return row?.seq == null ? 0 : Number(row.seq);
    },
  };
}
