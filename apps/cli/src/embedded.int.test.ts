import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Operation, Vm } from '@novacron/api';
import { NovaCronClient } from '@novacron/client';
import { loadConfig } from '@novacron/config';
import { createLogger } from '@novacron/telemetry';
import { killMatching, makeTempDir, pidsMatching, testCacheDir, waitFor } from '@novacron/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type Embedded } from './embedded.js';

// The first real VM, through the real server, agent and QEMU: one suite per store.
const postgresUrl =
  process.env.NOVACRON_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const requirePostgres = process.env.NOVACRON_TEST_REQUIRE_POSTGRES === '1';

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A database of its own for one suite, dropped afterwards. */
async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `novacron_it_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

const stores = [
  { name: 'SQLite', postgres: false },
  { name: 'PostgreSQL', postgres: true },
];

describe.each(stores)('a real VM through the API on $name', ({ postgres }) => {
  let embedded: Embedded;
  let client: NovaCronClient;
  let dataDir: Awaited<ReturnType<typeof makeTempDir>>;
  let database: Awaited<ReturnType<typeof freshDatabase>> | undefined;
  let skip = false;

  beforeAll(async () => {
    if (postgres && !(await postgresReachable())) {
      if (requirePostgres)
        throw new Error(`PostgreSQL is required but unreachable at ${postgresUrl}`);
      skip = true;
      return;
    }
    dataDir = await makeTempDir();
    database = postgres ? await freshDatabase() : undefined;
    const config = loadConfig(
      {
        NOVACRON_DATA_DIR: dataDir.path,
        NOVACRON_API_PORT: '0',
        NOVACRON_AGENT_PORT: '0',
        NOVACRON_CLUSTER_PORT: '0',
        NOVACRON_WS_PORT: '0',
        NOVACRON_ACCEL: 'tcg',
        NOVACRON_ADMIN_PASSWORD: 'integration-test',
        NOVACRON_LOG_LEVEL: 'warn',
        ...(database === undefined ? {} : { NOVACRON_DATABASE_URL: database.url }),
      },
      {},
    );
    embedded = await startEmbedded(config, createLogger({ level: 'warn' }), {
      imageCacheDir: join(testCacheDir, 'tiny-image'),
      hostPollMs: 500,
    });
    const login = await new NovaCronClient({ baseUrl: embedded.server.url }).login(
      'admin',
      'integration-test',
    );
    client = new NovaCronClient({ baseUrl: embedded.server.url, token: login.accessToken });
  });

  afterAll(async () => {
    if (skip) return;
    await embedded?.close();
    if (dataDir !== undefined) {
      await killMatching(dataDir.path);
      await dataDir.remove();
    }
    await database?.drop();
  });

  it('boots tiny in QEMU, reads its READY marker, stops it gracefully and deletes it', async (ctx) => {
    if (skip) ctx.skip();
    const [host] = (await client.hosts.list()).items;
    expect(host).toMatchObject({ state: 'ready', accelerator: 'tcg' });

    const create = await client.vms.create({ name: 'demo', image: 'tiny', memoryMiB: 256 });
    const created = await client.operations.wait(create.id, 120);
    expect(created).toMatchObject({ status: 'succeeded' });
    const vm = await client.vms.get('demo');
    expect(vm).toMatchObject({ state: 'running', host: host?.name, memoryMiB: 256 });
    expect(await pidsMatching(vm.id)).toHaveLength(1);

    const console = await waitFor(
      'the guest to print its READY marker and a heartbeat',
      async () => {
        const output = await client.vms.consoleOutput('demo');
        return /NOVACRON-GUEST-READY[\s\S]*HEARTBEAT 2 /.test(output) ? output : undefined;
      },
      90_000,
      500,
    );
    expect(console).toContain('NOVACRON-GUEST-READY');

    // A graceful stop: the guest powers off on the ACPI button.
    const stop = await client.vms.action('demo', { action: 'stop', timeoutSeconds: 60 });
    expect(await client.operations.wait(stop.id, 120)).toMatchObject({ status: 'succeeded' });
    expect(await client.vms.get('demo')).toMatchObject<Partial<Vm>>({ state: 'stopped' });
    expect(await pidsMatching(vm.id)).toHaveLength(0);

    const remove = await client.vms.delete('demo', {});
    expect(await client.operations.wait(remove.id, 60)).toMatchObject<Partial<Operation>>({
      status: 'succeeded',
    });
    await expect(client.vms.get('demo')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  });
});
