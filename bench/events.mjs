// The event stream: replay throughput and live latency over the WebSocket (the typed client with
// `ws`, as `novacron events` uses it), against its peer measured in the same run, the store itself
// (paging events.list; the in-process bus). On SQLite, and on PostgreSQL when it answers.
// Usage: npm run bench:events [-- --events 5000 --live 500]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import WebSocket from 'ws';
import { NovaCronClient } from '@novacron/client';
import { loadConfig } from '@novacron/config';
import { startServer } from '@novacron/server';
import { createLogger } from '@novacron/telemetry';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const replayCount = arg('events', 5000);
const liveCount = arg('live', 500);
const postgresUrl = 'postgres://postgres@127.0.0.1:5432/test';
const PASSWORD = 'bench-password';

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => x.toFixed(2);

async function writeEvents(store, count) {
  for (let i = 0; i < count; i += 1) {
    await store.operations.create({
      kind: 'vm.start',
      target: { type: 'vm', id: `vm${i}`, name: `vm${i}` },
      project: 'default',
    });
  }
}

/** A fresh PostgreSQL database, or undefined when PostgreSQL does not answer. */
async function freshDatabase() {
  const admin = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch {
    return undefined;
  }
  const name = `bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    url: postgresUrl.replace(/\/test$/, `/${name}`),
    async drop() {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

async function measure(label, databaseUrl) {
  const dataDir = await mkdtemp(join(tmpdir(), 'nc-bench-'));
  const server = await startServer({
    config: loadConfig({
      NOVACRON_DATA_DIR: dataDir,
      NOVACRON_API_PORT: '0',
      NOVACRON_WS_PORT: '0',
      NOVACRON_CLUSTER_PORT: '0',
      NOVACRON_ADMIN_PASSWORD: PASSWORD,
      ...(databaseUrl === undefined ? {} : { NOVACRON_DATABASE_URL: databaseUrl }),
    }),
    logger: createLogger({ level: 'silent' }),
    imageCacheDir: join(root, '.cache', 'tiny-image'),
  });
  try {
    const { store } = server;
    const { accessToken } = await new NovaCronClient({ baseUrl: server.url }).login(
      'admin',
      PASSWORD,
    );
    const client = new NovaCronClient({ baseUrl: server.url, token: accessToken });
    const start = await store.events.lastSeq();
    await writeEvents(store, replayCount);

    // Peer: the store paged directly, 500 at a time (what the server does per page).
    let t0 = performance.now();
    let since = start;
    let read = 0;
    for (;;) {
      const page = await store.events.list({ since, limit: 500 });
      if (page.length === 0) break;
      read += page.length;
      since = page.at(-1).seq;
    }
    const storeMs = performance.now() - t0;

    // The stream: connect, authenticate, replay everything after `start`.
    t0 = performance.now();
    let received = 0;
    let replayed;
    const seen = new Map();
    const stream = client.events({
      since: start,
      WebSocket,
      onEvent: (event) => {
        received += 1;
        if (received === replayCount) replayed?.();
        seen.set(event.seq, performance.now());
      },
    });
    await new Promise((resolve) => {
      replayed = resolve;
      if (received >= replayCount) resolve();
    });
    const replayMs = performance.now() - t0;

    // Live: commit -> onEvent over the WebSocket, against commit -> the in-process bus.
    const busAt = new Map();
    const unsubscribe = store.onEvent((events) => {
      for (const event of events) busAt.set(event.seq, performance.now());
    });
    const committedAt = new Map();
    for (let i = 0; i < liveCount; i += 1) {
      const before = performance.now();
      const operation = await store.operations.create({
        kind: 'vm.start',
        target: { type: 'vm', id: `live${i}`, name: `live${i}` },
        project: 'default',
      });
      committedAt.set(operation.id, before);
      // A server yields to IO between requests; a loop of awaited SQLite writes never would.
      await setImmediate();
    }
    const last = await store.events.lastSeq();
    while (!seen.has(last)) await new Promise((resolve) => setTimeout(resolve, 5));
    unsubscribe();
    stream.close();
    const liveEvents = (
      await store.events.list({ since: start + replayCount, limit: 1000 })
    ).filter((event) => committedAt.has(event.subject.id));
    const wsLatency = liveEvents.map((e) => seen.get(e.seq) - committedAt.get(e.subject.id));
    const busLatency = liveEvents.map((e) => busAt.get(e.seq) - committedAt.get(e.subject.id));
    return {
      label,
      read,
      storeMs,
      replayMs,
      wsP50: percentile(wsLatency, 50),
      wsP99: percentile(wsLatency, 99),
      busP50: percentile(busLatency, 50),
      busP99: percentile(busLatency, 99),
    };
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const results = [await measure('sqlite', undefined)];
const database = await freshDatabase();
if (database === undefined) {
  console.log('PostgreSQL does not answer: measured on SQLite only');
} else {
  try {
    results.push(await measure('postgres', database.url));
  } finally {
    await database.drop();
  }
}

console.log(`\nreplay of ${replayCount} stored events; live: ${liveCount} writes, one at a time\n`);
console.log(
  'store     replay: store pages   replay: WebSocket    write->bus p50/p99    write->client p50/p99',
);
for (const r of results) {
  const rate = (count, time) => `${Math.round((count / time) * 1000)}/s`;
  console.log(
    `${r.label.padEnd(9)} ${`${ms(r.storeMs)} ms (${rate(r.read, r.storeMs)})`.padEnd(21)} ${`${ms(r.replayMs)} ms (${rate(replayCount, r.replayMs)})`.padEnd(20)} ${`${ms(r.busP50)}/${ms(r.busP99)} ms`.padEnd(21)} ${ms(r.wsP50)}/${ms(r.wsP99)} ms`,
  );
}
