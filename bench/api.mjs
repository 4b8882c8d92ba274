// The REST API under load: requests/s and p50/p99 latency of GET /api/v1/vms/{id} and of a 100-VM
// page of GET /api/v1/vms with --vms VMs stored (default 100,000), authenticated, on SQLite and on
// PostgreSQL (a database of its own, dropped afterwards), side by side with the ceiling measured in
// the same run: a bare Fastify route answering a constant, in the same Node. Load comes from wrk
// (Debian package `wrk`); each server runs in a process of its own, whose RSS is printed.
// The server keeps VMs it read for 2 s (docs/adr/0021-request-caches.md), and wrk asks for one VM
// and one page over and over: two more rows ask for a VM drawn at random from all of them, and for
// a page drawn at random from all pages, so most of their reads miss the cache.
// Usage: npm run bench:api [-- --vms 100000 --runs 3 --duration 10 --connections 16]
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { NovaCronClient } from '@novacron/client';
import { median, numberArg, root, rssMiB } from './lib.mjs';

const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
const PASSWORD = 'bench-password';
const PAGE = 100;

// Child modes: this file also runs the servers under test, one process each.
if (process.argv[2] === '--serve') await serveNovaCron(process.argv[3], process.argv[4]);
else if (process.argv[2] === '--serve-bare') await serveBare();
else await main();

/** The server as `novacron up` runs it (log level warn), over a store holding `vms` VMs. */
async function serveNovaCron(dataDir, databaseUrl) {
  const vms = Number(process.env.BENCH_VMS);
  const { loadConfig } = await import('@novacron/config');
  const { startServer } = await import('@novacron/server');
  const { createLogger } = await import('@novacron/telemetry');
  const start = () =>
    startServer({
      config: loadConfig({
        NOVACRON_DATA_DIR: dataDir,
        NOVACRON_API_PORT: '0',
        NOVACRON_WS_PORT: '0',
        NOVACRON_CLUSTER_PORT: '0',
        NOVACRON_ADMIN_PASSWORD: PASSWORD,
        ...(databaseUrl === 'sqlite' ? {} : { NOVACRON_DATABASE_URL: databaseUrl }),
      }),
      logger: createLogger({ level: 'warn', name: 'novacron' }),
      imageCacheDir: join(root, '.cache', 'tiny-image'),
    });
  const seeding = await start();
  const seeded = await seed(seeding.store, vms, dataDir, databaseUrl);
  // Measured as a server that starts with the VMs already stored (its planner statistics too).
  await seeding.close();
  const server = await start();
  process.stdout.write(`${JSON.stringify({ url: server.url, ...seeded })}\n`);
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

/**
 * One VM made through the store, then copied `count - 1` times by one INSERT ... SELECT in the
 * database (creating 100,000 through the API would take longer than the measurement).
 */
async function seed(store, count, dataDir, databaseUrl) {
  const image = (await store.images.list('default')).find((i) => i.name === 'tiny');
  const template = await store.vms.create({
    project: 'default',
    name: 'bench-template',
    imageId: image.id,
    cpus: 1,
    memoryMiB: 128,
    diskGiB: 1,
    labels: { tier: 'bench' },
    state: 'stopped',
    desiredState: 'stopped',
  });
  const copies = count - 1;
  if (databaseUrl === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(dataDir, 'novacron.db'));
    db.pragma('busy_timeout = 5000');
    const columns = db
      .prepare('pragma table_info(vms)')
      .all()
      .map((c) => c.name);
    const select = columns.map((c) =>
      c === 'id'
        ? `printf('${template.id.slice(0, 8)}%08d', n)`
        : c === 'name'
          ? `printf('bench-%06d', n)`
          : c === 'created_at' || c === 'updated_at'
            ? // One millisecond apart, as VMs created one after another.
              `strftime('%Y-%m-%dT%H:%M:%fZ', vms.${c}, '+' || (n / 1000.0) || ' seconds')`
            : `vms.${c}`,
    );
    db.prepare(
      `with recursive g(n) as (select 1 union all select n + 1 from g where n < ?)
       insert into vms (${columns.join(', ')}) select ${select.join(', ')} from vms, g where vms.id = ?`,
    ).run(copies, template.id);
    db.close();
  } else {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const { rows } = await client.query(
      `select column_name from information_schema.columns
       where table_name = 'vms' and table_schema = current_schema() order by ordinal_position`,
    );
    const columns = rows.map((r) => r.column_name);
    const select = columns.map((c) =>
      c === 'id'
        ? `'${template.id.slice(0, 8)}' || lpad(g::text, 8, '0')`
        : c === 'name'
          ? `'bench-' || lpad(g::text, 6, '0')`
          : c === 'created_at' || c === 'updated_at'
            ? `to_char((vms.${c}::timestamptz + g * interval '1 millisecond') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
            : `vms.${c}`,
    );
    await client.query(
      `insert into vms (${columns.join(', ')}) select ${select.join(', ')}
       from vms, generate_series(1, $1::int) g where vms.id = $2`,
      [copies, template.id],
    );
    await client.query('analyze vms');
    await client.end();
  }
  return { vmId: template.id, copyPrefix: template.id.slice(0, 8), copies };
}

/** The ceiling: Fastify with one route answering a constant, no logger, no hooks. */
async function serveBare() {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  const body = { id: 'constant', name: 'constant', state: 'stopped' };
  app.get('/constant', async () => body);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`${JSON.stringify({ url })}\n`);
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

/** Starts this file in a child mode; resolves with its first stdout line (JSON) and its pid. */
async function child(args, env = {}) {
  const proc = spawn(process.execPath, [join(root, 'bench/api.mjs'), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
  lines.on('line', () => {}); // the server's own log lines, if any
  return {
    ...JSON.parse(first),
    pid: proc.pid,
    stop: () =>
      new Promise((resolve) => {
        proc.once('exit', resolve);
        proc.kill('SIGTERM');
      }),
  };
}

/** One wrk run: requests/s and latency percentiles in ms. */
function wrk(url, { duration, connections, token, script }) {
  const args = ['-t1', `-c${connections}`, `-d${duration}s`, '--latency'];
  if (token !== undefined) args.push('-H', `Authorization: Bearer ${token}`);
  if (script !== undefined) args.push('-s', script);
  const run = spawnSync('wrk', [...args, url], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`wrk failed: ${run.stderr}`);
  const out = run.stdout;
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (errors) throw new Error(`wrk: ${errors[1]} answers were not 2xx for ${url}`);
  const toMs = (value, unit) => Number(value) * { us: 0.001, ms: 1, s: 1000 }[unit];
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(out);
    return m ? toMs(m[1], m[2]) : NaN;
  };
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]), p50: pct(50), p99: pct(99) };
}

/** A fresh PostgreSQL database, or undefined when PostgreSQL does not answer. */
async function freshDatabase() {
  const admin = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch {
    return undefined;
  }
  const name = `bench_api_${randomBytes(4).toString('hex')}`;
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    url: POSTGRES_URL.replace(/\/test$/, `/${name}`),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

async function measureBackend(label, databaseUrl, options, ceilingUrl) {
  const dataDir = await mkdtemp(join(tmpdir(), 'nc-bench-api-'));
  const seedStart = performance.now();
  const server = await child(['--serve', dataDir, databaseUrl], { BENCH_VMS: String(options.vms) });
  const ready = ((performance.now() - seedStart) / 1000).toFixed(1);
  try {
    const client = new NovaCronClient({ baseUrl: server.url });
    const { accessToken: token } = await client.login('admin', PASSWORD);
    const authed = new NovaCronClient({ baseUrl: server.url, token });
    // A page in the middle of the list, reached by following cursors.
    let cursor;
    for (let skipped = 0; skipped < options.vms / 2; skipped += 1000) {
      const page = await authed.vms.list({ limit: 1000, ...(cursor ? { cursor } : {}) });
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    // Every page's cursor, for the run over random pages.
    const cursors = [];
    for (let next; ;) {
      const page = await authed.vms.list({ limit: PAGE, ...(next ? { cursor: next } : {}) });
      if (page.nextCursor === null) break;
      cursors.push(page.nextCursor);
      next = page.nextCursor;
    }
    const check = await authed.vms.list({ limit: PAGE, ...(cursor ? { cursor } : {}) });
    if (check.items.length !== PAGE) throw new Error(`a page held ${check.items.length} VMs`);
    const pageUrl = `${server.url}/api/v1/vms?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const byIdUrl = `${server.url}/api/v1/vms/${server.vmId}`;
    const anyVm = join(dataDir, 'any-vm.lua');
    await writeFile(
      anyVm,
      `request = function()
  return wrk.format("GET", string.format("/api/v1/vms/${server.copyPrefix}%08d", math.random(1, ${server.copies})))
end
`,
    );
    const anyPage = join(dataDir, 'any-page.lua');
    await writeFile(
      anyPage,
      `local paths = {${cursors.map((c) => `"/api/v1/vms?limit=${PAGE}&cursor=${encodeURIComponent(c)}"`).join(',')}}
request = function()
  return wrk.format("GET", paths[math.random(1, #paths)])
end
`,
    );
    const runs = { ceiling: [], byId: [], page: [], anyVm: [], anyPage: [] };
    // Warm-up, then the three interleaved so that drift of the machine hits each alike.
    wrk(byIdUrl, { ...options, duration: 2, token });
    wrk(pageUrl, { ...options, duration: 2, token });
    for (let run = 0; run < options.runs; run += 1) {
      runs.ceiling.push(wrk(`${ceilingUrl}/constant`, options));
      runs.byId.push(wrk(byIdUrl, { ...options, token }));
      runs.page.push(wrk(pageUrl, { ...options, token }));
      runs.anyVm.push(wrk(server.url, { ...options, token, script: anyVm }));
      runs.anyPage.push(wrk(server.url, { ...options, token, script: anyPage }));
    }
    const rss = await rssMiB(server.pid);
    return { label, ready, runs, rss };
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function report({ label, ready, runs, rss }, vms) {
  const med = (key, field) => median(runs[key].map((r) => r[field]));
  const ceiling = med('ceiling', 'rps');
  const line = (name, key, goal) => {
    const rps = med(key, 'rps');
    const ratio = (100 * rps) / ceiling;
    return `  ${name.padEnd(34)} ${rps.toFixed(0).padStart(7)} req/s  ${ratio.toFixed(0).padStart(3)} % of ceiling  p50 ${med(key, 'p50').toFixed(2)} ms  p99 ${med(key, 'p99').toFixed(2)} ms  (goal: ${goal})`;
  };
  console.log(
    `\n${label}: ${vms} VMs stored (server up and seeded in ${ready} s), server RSS ${rss.toFixed(0)} MiB`,
  );
  console.log(line('ceiling: bare Fastify constant', 'ceiling', 'the peer'));
  console.log(line('GET /api/v1/vms/{id}', 'byId', '>= 50 %, p99 < 10 ms'));
  console.log(line(`GET /api/v1/vms (page of ${PAGE}, mid-list)`, 'page', '>= 10 %, p99 < 25 ms'));
  console.log(line('GET /api/v1/vms/{id}, any VM', 'anyVm', 'mostly cache misses'));
  console.log(line(`GET /api/v1/vms, any page of ${PAGE}`, 'anyPage', 'mostly cache misses'));
  for (const key of ['ceiling', 'byId', 'page', 'anyVm', 'anyPage']) {
    console.log(`    ${key} runs: ${runs[key].map((r) => r.rps.toFixed(0)).join(', ')} req/s`);
  }
}

async function main() {
  if (spawnSync('wrk', ['--version']).error !== undefined) {
    console.error(
      'bench:api needs wrk: sudo apt-get install wrk (or bash scripts/host-prereqs.sh --with-bench-deps)',
    );
    process.exit(2);
  }
  const options = {
    vms: numberArg('vms', 100_000),
    runs: numberArg('runs', 3),
    duration: numberArg('duration', 10),
    connections: numberArg('connections', 16),
  };
  console.log(
    `bench:api — wrk -t1 -c${options.connections}, ${options.duration} s per run, ${options.runs} runs (medians shown), Node ${process.version}`,
  );
  const bare = await child(['--serve-bare']);
  try {
    report(await measureBackend('SQLite', 'sqlite', options, bare.url), options.vms);
    const database = await freshDatabase();
    if (database === undefined) {
      console.log(`\nPostgreSQL: not measured, nothing answers at ${POSTGRES_URL}`);
    } else {
      try {
        report(await measureBackend('PostgreSQL', database.url, options, bare.url), options.vms);
      } finally {
        await database.drop();
      }
    }
    console.log(`\nceiling server RSS ${(await rssMiB(bare.pid)).toFixed(0)} MiB`);
  } finally {
    await bare.stop();
  }
}
