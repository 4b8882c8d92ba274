import { sql, type Kysely } from 'kysely';
import type { Event, EventType } from '@novacron/api';
import type { Clock, IdSource } from '@novacron/domain';
import type { EventBus, Ticket } from './event-bus.js';
import type { StoreDialect } from './migrations.js';
import type { Tables } from './schema.js';

/** What every repository shares: the database, the dialect, time, ids and the event bus. */
export interface StoreContext {
  readonly db: Kysely<Tables>;
  readonly dialect: StoreDialect;
  readonly clock: Clock;
  readonly newId: IdSource;
  readonly bus: EventBus;
  /** The two int4 keys of the PostgreSQL advisory lock that orders event appends. */
  readonly eventLockKey: readonly [number, number];
}

/** One open transaction: the events it appended and its place in the delivery queue. */
export interface TxState {
  readonly events: Event[];
  ticket: Ticket | undefined;
}

/** Where a repository runs: the store's pool, or one transaction. */
export interface Scope {
  readonly db: Kysely<Tables>;
  readonly tx: TxState | undefined;
}

export interface WriteScope {
  readonly db: Kysely<Tables>;
  readonly tx: TxState;
}

/** Runs `fn` in a new transaction; its events go to the bus once it has committed. */
export async function runTransaction<T>(
  ctx: StoreContext,
  fn: (scope: WriteScope) => Promise<T>,
): Promise<T> {
  const tx: TxState = { events: [], ticket: undefined };
  try {
    const result = await ctx.db.transaction().execute((trx) => fn({ db: trx, tx }));
    if (tx.ticket) ctx.bus.settle(tx.ticket, tx.events);
    return result;
  } catch (error) {
    if (tx.ticket) ctx.bus.settle(tx.ticket, []);
    throw error;
  }
}

/** Runs `fn` inside the scope's transaction, or in a new one when the scope has none. */
export function write<T>(
  ctx: StoreContext,
  scope: Scope,
  fn: (scope: WriteScope) => Promise<T>,
): Promise<T> {
  const { tx } = scope;
  return tx ? fn({ db: scope.db, tx }) : runTransaction(ctx, fn);
}

/**
 * Takes the event lock for the rest of the transaction. Call it before the first row change of
 * a write that will append an event. On PostgreSQL the seq comes from an identity column, handed
 * out at insert time, not at commit: without the lock, seq 7 could commit after seq 8 and a
 * reader that had already seen 8 would skip 7 for good. The transaction-scoped advisory lock,
 * held until commit, makes seq order equal commit order. Taking it before the row changes (not
 * just before the event insert) keeps lock order the same in every writer, so writers queue
 * instead of deadlocking. SQLite writes are serialised by the database already.
 */
export async function lockEvents(ctx: StoreContext, scope: WriteScope): Promise<void> {
  if (scope.tx.ticket) return;
  if (ctx.dialect === 'postgres') {
    const [a, b] = ctx.eventLockKey;
    await sql`select pg_advisory_xact_lock(${sql.lit(a)}, ${sql.lit(b)})`.execute(scope.db);
  }
  scope.tx.ticket = ctx.bus.reserve();
}

export interface NewEvent {
  type: EventType;
  project: string | null;
  subject: { kind: string; id: string };
  data: Record<string, unknown>;
}

/** Appends one event in the scope's transaction; it is delivered to listeners after commit. */
export async function appendEvent(
  ctx: StoreContext,
  scope: WriteScope,
  event: NewEvent,
): Promise<Event> {
  await lockEvents(ctx, scope);
  const time = now(ctx);
  const row = await scope.db
    .insertInto('events')
    .values({
      type: event.type,
      time,
      project: event.project,
      subject_kind: event.subject.kind,
      subject_id: event.subject.id,
      data: JSON.stringify(event.data),
    })
    .returning('seq')
    .executeTakeFirstOrThrow();
  const appended: Event = { seq: Number(row.seq), time, ...event };
  scope.tx.events.push(appended);
  return appended;
}

export function now(ctx: StoreContext): string {
  return ctx.clock.now().toISOString();
}

/** Normalises a caller's time to the stored form, so that stored times sort as text. */
export function toIso(time: Date | string): string {
  return (typeof time === 'string' ? new Date(time) : time).toISOString();
}

export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}
