import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { StoreDialect } from './migrations.js';
import type { NewImage } from './repositories/images.js';
import { DEFAULT_PROJECT } from './repositories/projects.js';
import { openStore, type Store, type StoreOptions } from './store.js';

// Helpers for tests in any package: the same suite on a migrated SQLite store and a migrated
// PostgreSQL store in a schema of its own, each with its cleanup.

export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

export interface TestStore {
  readonly store: Store;
  /** Closes the store and deletes its file or schema. */
  cleanup(): Promise<void>;
}

export interface TestDatabase {
  readonly dialect: StoreDialect;
  /** Why this database is skipped, or undefined when the suite runs on it. */
  readonly skip: string | undefined;
  open(deps?: Pick<StoreOptions, 'clock' | 'newId'>): Promise<TestStore>;
}

/**
 * The databases a contract suite runs on: SQLite always; PostgreSQL at `postgresUrl` when it
 * answers. When it does not, PostgreSQL is skipped with the reason, unless `requirePostgres`,
 * in which case `open` throws and the suite fails.
 */
export async function testDatabases(options: {
  postgresUrl?: string;
  requirePostgres?: boolean;
}): Promise<TestDatabase[]> {
  const url = options.postgresUrl ?? DEFAULT_TEST_DATABASE_URL;
  const unreachable = await probePostgres(url);
  const postgres: TestDatabase = {
    dialect: 'postgres',
    skip:
      unreachable !== undefined && !options.requirePostgres
        ? `PostgreSQL unreachable at ${redact(url)} (${unreachable})`
        : undefined,
    open: (deps) => {
      if (unreachable !== undefined) {
        throw new Error(`PostgreSQL is required but unreachable at ${redact(url)}: ${unreachable}`);
      }
      return openPostgresTestStore(url, deps);
    },
  };
  return [{ dialect: 'sqlite', skip: undefined, open: openSqliteTestStore }, postgres];
}

/** A ready image in the default project for a suite's VMs to name (no file behind it). */
export function createTestImage(store: Store, image: Partial<NewImage> = {}) {
  return store.images.create({
    project: DEFAULT_PROJECT,
    name: 'tiny',
    kind: 'kernel',
    status: 'ready',
    sizeBytes: 1024,
    defaultKernelArgs: '',
    sha256: 'ab'.repeat(32),
    ...image,
  });
}

export async function openSqliteTestStore(
  deps: Pick<StoreOptions, 'clock' | 'newId'> = {},
): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), 'novacron-store-'));
  const store = await openStore({ ...deps, sqlitePath: join(dir, 'store.db') });
  await store.migrate();
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function openPostgresTestStore(
  url: string,
  deps: Pick<StoreOptions, 'clock' | 'newId'> = {},
): Promise<TestStore> {
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const store = await openStore({ ...deps, url, pgSchema: schema });
  await store.migrate();
  return {
    store,
    async cleanup() {
      await store.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Undefined when PostgreSQL answers, else why not. */
async function probePostgres(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  // A connection that fails later must not crash the test process.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
