import type { Kysely } from 'kysely';
import type {
  ErrorDetail,
  EventType,
  Operation,
  OperationKind,
  OperationStatus,
} from '@novacron/api';
import {
  appendEvent,
  lockEvents,
  now,
  parseJson,
  write,
  type Scope,
  type StoreContext,
  type WriteScope,
} from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type { OperationsTable, Tables } from '../schema.js';
import { projectIdOf } from './projects.js';

export interface NewOperation {
  kind: OperationKind;
  target: Operation['target'];
  /** Project name of the target; null for work that belongs to no project. */
  project: string | null;
  /** Default `pending`. */
  status?: OperationStatus;
  /** Default `pending`. */
  phase?: string;
  progress?: number;
}

export type OperationChanges = Partial<
  Pick<Operation, 'status' | 'phase' | 'progress' | 'result' | 'metadata' | 'error'>
>;

export interface OperationListFilter {
  status?: OperationStatus;
  kind?: OperationKind;
  /** Id or name of the target. */
  target?: string;
  /** Only operations of these projects (by name); work of no project is left out. */
  projects?: readonly string[];
  /** Default 100, at most 1000. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface OperationPageResult {
  items: Operation[];
  /** Null on the last page. */
  nextCursor: string | null;
}

export interface OperationRepository {
  create(operation: NewOperation): Promise<Operation>;
  get(id: string): Promise<Operation | undefined>;
  /** The project of the operation's target: null for cluster work, undefined when it does not exist. */
  projectOf(id: string): Promise<string | null | undefined>;
  /** Newest first; the cursor is stable while operations are added. */
  list(filter?: OperationListFilter): Promise<OperationPageResult>;
  /**
   * Applies the changes. With `onlyUnfinished`, changes nothing (and answers undefined) once the
   * operation has ended, so a late cancel and a finishing worker cannot both write an outcome.
   */
  update(
    id: string,
    changes: OperationChanges,
    options?: { onlyUnfinished?: boolean },
  ): Promise<Operation | undefined>;
  /** Pending and running operations, oldest first: what a new leader resumes or rolls back. */
  listUnfinished(): Promise<Operation[]>;
}

const UNFINISHED: readonly OperationStatus[] = ['pending', 'running'];

export function createOperationRepository(ctx: StoreContext, scope: Scope): OperationRepository {
  const publish = async (w: WriteScope, type: EventType, id: string) => {
    const row = await selectOperations(w.db)
      .where('operations.id', '=', id)
      .executeTakeFirstOrThrow();
    const operation = toOperation(row);
    await appendEvent(ctx, w, {
      type,
      project: row.project_name,
      subject: { kind: 'operation', id },
      data: operation,
    });
    return operation;
  };

  return {
    create(operation) {
      return write(ctx, scope, async (w) => {
        await lockEvents(ctx, w);
        const at = now(ctx);
        const id = ctx.newId();
        await w.db
          .insertInto('operations')
          .values({
            id,
            kind: operation.kind,
            status: operation.status ?? 'pending',
            phase: operation.phase ?? 'pending',
            progress: operation.progress ?? 0,
            target_type: operation.target.type,
            target_id: operation.target.id,
            target_name: operation.target.name,
            project_id: operation.project === null ? null : await projectIdOf(w, operation.project),
            result: null,
            metadata: null,
            error: null,
            created_at: at,
            updated_at: at,
          })
          .execute();
        return publish(w, 'operation.created', id);
      });
    },

    async get(id) {
      const row = await selectOperations(scope.db)
        .where('operations.id', '=', id)
        .executeTakeFirst();
      return row && toOperation(row);
    },

    async projectOf(id) {
      const row = await selectOperations(scope.db)
        .where('operations.id', '=', id)
        .executeTakeFirst();
      return row && row.project_name;
    },

    async list(filter = {}) {
      const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
      let query = selectOperations(scope.db);
      if (filter.projects !== undefined) {
        if (filter.projects.length === 0) return { items: [], nextCursor: null };
        query = query.where('projects.name', 'in', filter.projects);
      }
      if (filter.status !== undefined) {
        query = query.where('operations.status', '=', filter.status);
      }
      if (filter.kind !== undefined) query = query.where('operations.kind', '=', filter.kind);
      const { target } = filter;
      if (target !== undefined) {
        query = query.where((eb) =>
          eb.or([
            eb('operations.target_id', '=', target),
            eb('operations.target_name', '=', target),
          ]),
        );
      }
      if (filter.cursor !== undefined) {
        const [createdAt, id] = decodeCursor(filter.cursor);
        query = query.where((eb) =>
          eb(eb.refTuple('operations.created_at', 'operations.id'), '<', eb.tuple(createdAt, id)),
        );
      }
      // One row more than asked tells whether there is a next page.
      const rows = await query
        .orderBy('operations.created_at', 'desc')
        .orderBy('operations.id', 'desc')
        .limit(limit + 1)
        .execute();
      const items = rows.slice(0, limit).map(toOperation);
      const last = items.at(-1);
      return {
        items,
        nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null,
      };
    },

    update(id, changes, options = {}) {
      return write(ctx, scope, async (w) => {
        await lockEvents(ctx, w);
        let query = w.db
          .updateTable('operations')
          .set({
            status: changes.status,
            phase: changes.phase,
            progress: changes.progress,
            // undefined leaves the column alone; null clears it.
            result: changes.result === undefined ? undefined : jsonOrNull(changes.result),
            metadata: changes.metadata === undefined ? undefined : jsonOrNull(changes.metadata),
            error: changes.error === undefined ? undefined : jsonOrNull(changes.error),
            updated_at: now(ctx),
          })
          .where('id', '=', id);
        if (options.onlyUnfinished) query = query.where('status', 'in', UNFINISHED);
        const result = await query.executeTakeFirst();
        if (result.numUpdatedRows === 0n) return undefined;
        return publish(w, 'operation.updated', id);
      });
    },

    async listUnfinished() {
      const rows = await selectOperations(scope.db)
        .where('operations.status', 'in', UNFINISHED)
        .orderBy('operations.created_at')
        .orderBy('operations.id')
        .execute();
      return rows.map(toOperation);
    },
  };
}

function jsonOrNull(value: object | null): string | null {
  return value === null ? null : JSON.stringify(value);
}

function selectOperations(db: Kysely<Tables>) {
  return db
    .selectFrom('operations')
    .leftJoin('projects', 'projects.id', 'operations.project_id')
    .selectAll('operations')
    .select('projects.name as project_name');
}

function toOperation(row: OperationsTable & { project_name: string | null }): Operation {
  return {
    id: row.id,
    kind: row.kind as OperationKind,
    status: row.status as OperationStatus,
    phase: row.phase,
    progress: row.progress,
    target: {
      type: row.target_type as Operation['target']['type'],
      id: row.target_id,
      name: row.target_name,
    },
    result: row.result === null ? null : parseJson<Record<string, unknown>>(row.result),
    metadata: row.metadata === null ? null : parseJson<Record<string, unknown>>(row.metadata),
    error: row.error === null ? null : parseJson<ErrorDetail>(row.error),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
