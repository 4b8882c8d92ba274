// Live migration of the tiny guest (256 MiB, TCG) between the two network namespaces of
// `novacron up --hosts 2`, against a raw QMP migration of the same guest between two bare QEMU
// processes in the same two namespaces, in the same run. Per case, each raw strategy and
// NovaCron's `auto` (TLS on and off) migrate the guest back and forth --runs times.
// Usage: npm run bench:migration [-- --runs 5 --cases idle,dirty60,dirtymax,capped]
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from '@novacron/qmp';
import { median, numberArg, rawQemuArgs, startUp, waitUntil } from './lib.mjs';

const runs = numberArg('runs', 5);
const MEMORY_MIB = 256;
const MiB = 1024 * 1024;
const PREFIX = 'ncb';
const SUBNET = '10.199.30.0/24';
/** A run that has not completed by then is cancelled and counts as not completed. */
const RAW_TIMEOUT_MS = 45_000;

const CASES = {
  idle: { title: 'idle', kernelArgs: '', bandwidthMiB: 128 },
  dirty60: {
    title: 'dirtying ~60 MiB/s',
    kernelArgs: 'workload=dirty dirty_mib_s=60 wss_mib=96',
    bandwidthMiB: 128,
  },
  dirtymax: {
    title: 'dirtying as fast as it can',
    kernelArgs: 'workload=dirty dirty_mib_s=1000 wss_mib=96',
    bandwidthMiB: 128,
  },
  capped: {
    title: '32 MiB/s cap, dirtying ~60 MiB/s',
    kernelArgs: 'workload=dirty dirty_mib_s=60 wss_mib=96',
    bandwidthMiB: 32,
  },
};
const caseArg = process.argv.indexOf('--cases');
const selected =
  caseArg > 0 ? process.argv[caseArg + 1].split(',') : ['idle', 'dirty60', 'dirtymax', 'capped'];

const RAW_STRATEGIES = ['precopy', 'postcopy', 'autoconverge'];

/** One bare QEMU of the guest in a namespace, with QMP on a unix socket. */
async function bareQemu(work, imageDir, namespace, tag, kernelArgs, incoming) {
  const qmpPath = join(work, `${tag}.qmp`);
  const log = join(work, `${tag}.log`);
  await writeFile(log, '');
  const args = rawQemuArgs(imageDir, MEMORY_MIB, `file:${log}`);
  args[args.indexOf('-append') + 1] = `quiet console=ttyS0 ${kernelArgs}`.trim();
  args.push('-qmp', `unix:${qmpPath},server=on,wait=off`, '-name', `bench-${tag}`);
  if (incoming) args.push('-incoming', 'defer');
  const child = spawn('ip', ['netns', 'exec', namespace, 'qemu-system-x86_64', ...args], {
    stdio: 'ignore',
  });
  let qmp;
  await waitUntil(async () => {
    qmp = await QmpClient.connect(qmpPath, { timeoutMs: 1000 }).catch(() => undefined);
    return qmp !== undefined;
  }, 30_000);
  return { child, qmp, log };
}

async function stopQemu(qemu) {
  await qemu.qmp.executeRaw('quit').catch(() => undefined);
  qemu.qmp.close?.();
  if (qemu.child.exitCode === null) await new Promise((r) => qemu.child.once('exit', r));
}

/** One raw migration with QMP only, as an operator would type it; null when it did not complete. */
async function rawMigrate(work, imageDir, source, toHost, strategy, bandwidthMiB, kernelArgs, i) {
  const target = await bareQemu(work, imageDir, toHost.namespace, `raw-${i}`, kernelArgs, true);
  const caps = [{ capability: 'events', state: true }];
  if (strategy === 'postcopy') caps.push({ capability: 'postcopy-ram', state: true });
  const sourceCaps =
    strategy === 'autoconverge' ? [...caps, { capability: 'auto-converge', state: true }] : caps;
  await target.qmp.executeRaw('migrate-set-capabilities', { capabilities: caps });
  await source.qmp.executeRaw('migrate-set-capabilities', { capabilities: sourceCaps });
  await source.qmp.executeRaw('migrate-set-parameters', {
    'max-bandwidth': bandwidthMiB * MiB,
    'downtime-limit': 300,
  });
  const uri = `tcp:${toHost.address}:${49152 + (i % 1000)}`;
  await target.qmp.executeRaw('migrate-incoming', { uri });
  await source.qmp.executeRaw('migrate', { uri });
  const deadline = performance.now() + RAW_TIMEOUT_MS;
  let switched = false;
  for (;;) {
    const info = await source.qmp.executeRaw('query-migrate');
    if (info.status === 'completed') {
      await stopQemu(source);
      return {
        qemu: target,
        outcome: {
          totalTimeMs: info['total-time'],
          downtimeMs: info.downtime,
          bytes: info.ram?.transferred ?? 0,
        },
      };
    }
    if (info.status === 'failed' || performance.now() > deadline) {
      await source.qmp.executeRaw('migrate_cancel').catch(() => undefined);
      // The next run may set capabilities only once this one has ended.
      await waitUntil(async () => {
        const { status } = await source.qmp.executeRaw('query-migrate');
        return status !== 'cancelling' && status !== 'active' && status !== 'setup';
      }, 30_000);
      await stopQemu(target);
      return { qemu: source, outcome: null };
    }
    // Post-copy as documented: switch once the first pass over memory is done.
    if (strategy === 'postcopy' && !switched && (info.ram?.['dirty-sync-count'] ?? 0) >= 2) {
      await source.qmp.executeRaw('migrate-start-postcopy');
      switched = true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function novacronMigrate(client, name, to, bandwidthMiB, tls) {
  const accepted = await client.vms.migrate(name, {
    to,
    maxBandwidthBytes: bandwidthMiB * MiB,
    tls,
  });
  const operation = await client.operations.wait(accepted.id, 300);
  if (operation.status !== 'succeeded') {
    return { outcome: null, error: operation.error?.message ?? operation.status };
  }
  const r = operation.result;
  return {
    outcome: {
      totalTimeMs: r.totalTimeMs,
      downtimeMs: r.downtimeMs,
      bytes: r.bytesTransferred,
      strategy: r.escalated ? `${r.strategy}+${r.escalated}` : r.strategy,
      predictedMs: r.predicted?.totalTimeMs ?? null,
    },
  };
}

function summary(label, outcomes) {
  const done = outcomes.filter((o) => o !== null);
  if (done.length === 0) return { label, completed: `0/${outcomes.length}`, done };
  return {
    label,
    completed: `${done.length}/${outcomes.length}`,
    done,
    totalMs: median(done.map((o) => o.totalTimeMs)),
    downtimeMs: median(done.map((o) => o.downtimeMs)),
    bytes: median(done.map((o) => o.bytes)),
  };
}

function printCase(title, rows) {
  console.log(`\n### ${title} (${runs} runs each)`);
  console.log(
    '| path | strategy | completed | median total | median downtime | median sent | predicted total (median error) |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const total = row.totalMs === undefined ? '-' : `${(row.totalMs / 1000).toFixed(2)} s`;
    const downtime = row.downtimeMs === undefined ? '-' : `${Math.round(row.downtimeMs)} ms`;
    const sent = row.bytes === undefined ? '-' : `${(row.bytes / MiB).toFixed(0)} MiB`;
    const strategies = [...new Set(row.done.map((o) => o.strategy ?? row.strategy))].join(', ');
    let predicted = '-';
    const withPrediction = row.done.filter((o) => typeof o.predictedMs === 'number');
    if (withPrediction.length > 0) {
      const errors = withPrediction.map(
        (o) => Math.abs(o.predictedMs - o.totalTimeMs) / o.totalTimeMs,
      );
      predicted = `${(median(withPrediction.map((o) => o.predictedMs)) / 1000).toFixed(2)} s (${Math.round(median(errors) * 100)} %)`;
    }
    console.log(
      `| ${row.label} | ${strategies || row.strategy} | ${row.completed} | ${total} | ${downtime} | ${sent} | ${predicted} |`,
    );
  }
}

async function main() {
  const up = await startUp('bench-password', {
    upArgs: ['up', '--hosts', '2'],
    env: { NOVACRON_CLUSTER_PREFIX: PREFIX, NOVACRON_CLUSTER_SUBNET: SUBNET },
  });
  try {
    const { client, dataDir, work } = up;
    const layout = JSON.parse(await readFile(join(dataDir, 'cluster.json'), 'utf8'));
    const [host1, host2] = layout.hosts;
    const image = (await client.images.get('tiny')).id;
    const imageDir = join(dataDir, 'images', image);
    let counter = 0;

    for (const key of selected) {
      const c = CASES[key];
      if (c === undefined) throw new Error(`unknown case ${key}`);
      const rows = [];
      // Raw peer: one guest, moved back and forth between the namespaces.
      for (const strategy of RAW_STRATEGIES) {
        const outcomes = [];
        let qemu;
        try {
          qemu = await bareQemu(
            work,
            imageDir,
            host1.namespace,
            `src-${key}-${strategy}`,
            c.kernelArgs,
            false,
          );
          await waitUntil(
            async () => (await readFile(qemu.log, 'utf8')).includes('HEARTBEAT 3 '),
            60_000,
            200,
          );
          let at = host1;
          for (let i = 0; i < runs; i++) {
            const to = at === host1 ? host2 : host1;
            const moved = await rawMigrate(
              work,
              imageDir,
              qemu,
              to,
              strategy,
              c.bandwidthMiB,
              c.kernelArgs,
              counter++,
            );
            outcomes.push(moved.outcome);
            qemu = moved.qemu;
            if (moved.outcome !== null) at = to;
          }
        } catch (error) {
          // A peer run that breaks is reported, not allowed to end the benchmark.
          console.log(`  raw ${strategy} (${key}) stopped: ${error.message}`);
          while (outcomes.length < runs) outcomes.push(null);
        }
        if (qemu) await stopQemu(qemu).catch(() => undefined);
        rows.push({ ...summary(`raw QMP (peer), TLS off`, outcomes), strategy });
      }
      // NovaCron: the same guest through the API, strategy auto.
      for (const tls of [true, false]) {
        const name = `bench-${key}-${tls ? 'tls' : 'plain'}`;
        const created = await client.vms.create({
          name,
          image: 'tiny',
          memoryMiB: MEMORY_MIB,
          host: host1.name,
          kernelArgs: c.kernelArgs,
          pool: 'shared',
        });
        await client.operations.wait(created.id, 300);
        await waitUntil(
          async () =>
            (await client.vms.consoleOutput(name).catch(() => '')).includes('HEARTBEAT 3 '),
          60_000,
          200,
        );
        let at = host1.name;
        const outcomes = [];
        const errors = [];
        for (let i = 0; i < runs; i++) {
          const to = at === host1.name ? host2.name : host1.name;
          const moved = await novacronMigrate(client, name, to, c.bandwidthMiB, tls);
          outcomes.push(moved.outcome);
          if (moved.error) errors.push(moved.error);
          if (moved.outcome !== null) at = to;
        }
        const removed = await client.vms.delete(name, { force: true });
        await client.operations.wait(removed.id, 120);
        rows.push({
          ...summary(`NovaCron auto, TLS ${tls ? 'on' : 'off'}`, outcomes),
          strategy: 'auto',
          tls,
        });
        for (const error of new Set(errors))
          console.log(`  NovaCron (${key}, TLS ${tls}) failed: ${error}`);
      }
      printCase(c.title, rows);
      const raws = rows.filter((r) => r.strategy !== 'auto' && r.done.length === runs);
      const best = raws.sort((a, b) => a.totalMs - b.totalMs)[0];
      const ours = rows.find((r) => r.strategy === 'auto' && r.tls === false);
      const oursTls = rows.find((r) => r.strategy === 'auto' && r.tls === true);
      if (best && ours?.totalMs !== undefined) {
        console.log(
          `ratio NovaCron auto (TLS off) / best raw (${best.strategy}) median total: ${(ours.totalMs / best.totalMs).toFixed(2)}` +
            (oursTls?.totalMs === undefined
              ? ''
              : `; TLS on: ${(oursTls.totalMs / best.totalMs).toFixed(2)}`),
        );
      } else {
        console.log('no ratio: the raw peer completed no strategy every time, or NovaCron none');
      }
    }
    console.log(
      `\nload average at the end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    await up.close();
  }
}

await main();
