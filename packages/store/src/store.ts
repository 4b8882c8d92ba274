import SqliteDatabase from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
  type SqliteDatabase as SqliteDialectDatabase,
} from 'kysely';
import pg from 'pg';
import type { Clock, IdSource } from '@novacron/domain';
import { runTransaction, type StoreContext } from './context.js';
import { randomId, systemClock } from './defaults.js';
import { EventBus, type EventListener } from './event-bus.js';
import { migrations, type StoreDialect } from './migrations.js';
import { createRepositories, type Repositories } from './repositories/index.js';
import { DEFAULT_PROJECT } from './repositories/projects.js';
import type { Tables } from './schema.js';

export interface StoreOptions {
  /** PostgreSQL connection URL (`postgres://...`). Exactly one of `url` and `sqlitePath`. */
  url?: string;
  /** SQLite database file, or `:memory:`. */
  sqlitePath?: string;
  /** PostgreSQL schema holding the tables, created if missing. Default `public`. */
  pgSchema?: string;
  clock?: Clock;
  newId?: IdSource;
  /** Called with what an event listener threw; by default it is rethrown outside the write. */
  onListenerError?: (error: unknown) => void;
}

export interface Store extends Repositories {
  readonly dialect: StoreDialect;
  /** Brings the schema to the latest migration and ensures the default project. Idempotent. */
  migrate(): Promise<void>;
  /**
   * Runs `fn` in one transaction with the same repositories; it commits when `fn` resolves and
   * rolls back when it throws. Inside, use only `tx`: on SQLite the store's own repositories
   * wait for the one connection the transaction holds.
   */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /** Calls `listener` with each transaction's events once it has committed, in seq order. */
  onEvent(listener: EventListener): () => void;
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
// First key of the event advisory lock ('NOVA'); the second is derived from the schema.
const EVENT_LOCK_CLASS = 0x4e4f5641;

export async function openStore(options: StoreOptions): Promise<Store> {
  if ((options.url === undefined) === (options.sqlitePath === undefined)) {
    throw new Error('openStore needs exactly one of url and sqlitePath');
  }
  const pgSchema = options.pgSchema ?? 'public';
  if (!SCHEMA_NAME.test(pgSchema)) throw new Error(`invalid PostgreSQL schema name: ${pgSchema}`);

  const dialect: StoreDialect = options.url === undefined ? 'sqlite' : 'postgres';
  const db =
    options.url === undefined
      ? openSqlite(options.sqlitePath ?? ':memory:')
      : await openPostgres(options.url, pgSchema);

  const ctx: StoreContext = {
    db,
    dialect,
    clock: options.clock ?? systemClock,
    newId: options.newId ?? randomId,
    bus: new EventBus(
      options.onListenerError ??
        ((error) =>
          queueMicrotask(() => {
            throw error;
          })),
    ),
    eventLockKey: [EVENT_LOCK_CLASS, hash32(pgSchema)],
  };
  const repositories = createRepositories(ctx, { db, tx: undefined });

  return {
    ...repositories,
    dialect,

    async migrate() {
      const migrator = new Migrator({
        db,
        provider: { getMigrations: () => Promise.resolve(migrations(dialect)) },
        // Without it, Kysely would take a kysely_migration table in any other schema for ours.
        ...(dialect === 'postgres' && { migrationTableSchema: pgSchema }),
        // Numbers are reserved ahead by work landing side by side: a store that already ran a
        // later one still runs an earlier one that landed after it (each stands on its own).
        allowUnorderedMigrations: true,
      });
      const { error, results } = await migrator.migrateToLatest();
      if (error !== undefined) {
        const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'setup';
        throw new Error(`store migration ${failed} failed`, { cause: error });
      }
      await repositories.projects.ensure(DEFAULT_PROJECT);
    },

    transaction(fn) {
      return runTransaction(ctx, (scope) => fn(createRepositories(ctx, scope)));
    },

    onEvent(listener) {
      return ctx.bus.subscribe(listener);
    },

    close() {
      return db.destroy();
    },
  };
}

function openSqlite(path: string): Kysely<Tables> {
  const database = new SqliteDatabase(path);
  // WAL lets readers run beside the writer; it does not apply to an in-memory database.
  if (path !== ':memory:') database.pragma('journal_mode = WAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  // Without statistics the planner lists one project's VMs by reading the whole project and
  // sorting it (70 ms a page at 100,000 VMs instead of 3 ms): gather them at open, and again
  // as tables grow (SQLite only re-analyzes tables that changed a lot).
  database.pragma('optimize = 0x10002');
  const optimizer = setInterval(() => database.pragma('optimize'), 3600_000);
  optimizer.unref();
  return new Kysely<Tables>({
    dialect: new SqliteDialect({
      database: withStatementCache(database, () => clearInterval(optimizer)),
    }),
  });
}

/**
 * better-sqlite3 compiles a statement on every `prepare`, and Kysely prepares each query anew;
 * the same query shapes come back all the time (a GET by id runs five), so compiled statements
 * are kept by their SQL. Safe because Kysely runs each statement to completion synchronously.
 */
function withStatementCache(
  database: SqliteDatabase.Database,
  onClose: () => void,
): SqliteDialectDatabase {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => {
      onClose();
      database.close();
    },
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        // Bounded: queries with lists of varying length make new shapes.
        if (statements.size >= 1000) statements.clear();
        statement = database.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

async function openPostgres(url: string, schema: string): Promise<Kysely<Tables>> {
  const pool = new pg.Pool({
    connectionString: url,
    // Every connection resolves unqualified table names in our schema.
    options: `-c search_path=${schema}`,
  });
  // An idle connection that drops is removed by the pool; without a listener, the error would
  // crash the process.
  pool.on('error', () => {});
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  try {
    // Look before creating: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when
    // the schema is there.
    const found = await sql`select 1 from pg_namespace where nspname = ${schema}`.execute(db);
    if (found.rows.length === 0) {
      await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
    }
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return db;
}

/** FNV-1a, as a signed int4 for pg_advisory_xact_lock(int4, int4). */
function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
