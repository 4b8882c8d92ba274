// Live migration of the tiny guest (256 MiB, TCG) between the two network namespaces of
// `novacron up --hosts 2`, against a raw QMP migration of the same guest between two bare QEMU
// processes in the same two namespaces, in the same run. Per case, each raw strategy and
// NovaCron's `auto` (TLS on and off) migrate the guest back and forth --runs times.
// Case `sharednothing` (not in the default set): an idle guest whose local disk holds 64 MiB of
// data moves back and forth by NBD + blockdev-mirror + migrate; its peer does the same steps by
// hand over QMP between two bare QEMUs in the same namespaces.
// Usage: npm run bench:migration [-- --runs 5 --cases idle,dirty60,dirtymax,capped,sharednothing]
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
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
const run = promisify(execFile);
/** Data written into the disk of the shared-nothing case before its guest starts. */
const DISK_DATA_MIB = 64;

/** A blank qcow2 of 1 GiB, optionally with DISK_DATA_MIB of a pattern written at its start. */
async function rawDisk(path, withData) {
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', path, '1G']);
  if (withData) await fillDisk(path);
}

async function fillDisk(path) {
  await run('qemu-io', ['-f', 'qcow2', '-c', `write -P 0xa5 0 ${DISK_DATA_MIB}M`, path]);
}

/** One bare QEMU of the guest in a namespace, with QMP on a unix socket. */
async function bareQemu(work, imageDir, namespace, tag, kernelArgs, incoming, disk) {
  const qmpPath = join(work, `${tag}.qmp`);
  const log = join(work, `${tag}.log`);
  await writeFile(log, '');
  const args = rawQemuArgs(imageDir, MEMORY_MIB, `file:${log}`);
  args[args.indexOf('-append') + 1] = `quiet console=ttyS0 ${kernelArgs}`.trim();
  args.push('-qmp', `unix:${qmpPath},server=on,wait=off`, '-name', `bench-${tag}`);
  if (disk) {
    args.push(
      '-blockdev',
      `driver=file,node-name=disk0-file,filename=${disk}`,
      '-blockdev',
      'driver=qcow2,node-name=disk0,file=disk0-file',
      '-device',
      'virtio-blk-pci,drive=disk0',
    );
  }
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

/**
 * The shared-nothing peer, as an operator would type it: a fresh disk and an incoming QEMU on the
 * target, its disk exported over NBD; the source mirrors its disk (sync=top, write-blocking), then
 * migrates with pause-before-switchover, ends the mirror in sync at pre-switchover, continues.
 */
async function rawSharedNothing(work, imageDir, source, toHost, i) {
  const started = performance.now();
  const disk = join(work, `sn-${i}.qcow2`);
  await rawDisk(disk, false);
  const target = await bareQemu(work, imageDir, toHost.namespace, `sn-${i}`, '', true, disk);
  const nbdPort = 10809 + (i % 100);
  await target.qmp.executeRaw('nbd-server-start', {
    addr: { type: 'inet', data: { host: toHost.address, port: String(nbdPort) } },
  });
  await target.qmp.executeRaw('block-export-add', {
    type: 'nbd',
    id: 'disk0',
    'node-name': 'disk0',
    name: 'disk0',
    writable: true,
  });
  const caps = [{ capability: 'events', state: true }];
  await target.qmp.executeRaw('migrate-set-capabilities', { capabilities: caps });
  await source.qmp.executeRaw('migrate-set-capabilities', {
    capabilities: [...caps, { capability: 'pause-before-switchover', state: true }],
  });
  await source.qmp.executeRaw('migrate-set-parameters', {
    'max-bandwidth': 128 * MiB,
    'downtime-limit': 300,
  });
  await source.qmp.executeRaw('blockdev-add', {
    driver: 'nbd',
    'node-name': 'mirror-target',
    server: { type: 'inet', host: toHost.address, port: String(nbdPort) },
    export: 'disk0',
  });
  const mirrorStarted = performance.now();
  await source.qmp.executeRaw('blockdev-mirror', {
    'job-id': 'mirror',
    device: 'disk0',
    target: 'mirror-target',
    sync: 'top',
    'copy-mode': 'write-blocking',
  });
  let mirrored = 0;
  await waitUntil(async () => {
    const jobs = await source.qmp.executeRaw('query-block-jobs');
    mirrored = jobs[0]?.len ?? 0;
    return jobs[0]?.ready === true;
  }, RAW_TIMEOUT_MS);
  const mirrorMs = performance.now() - mirrorStarted;
  const uri = `tcp:${toHost.address}:${49152 + (i % 1000)}`;
  await target.qmp.executeRaw('migrate-incoming', { uri });
  await source.qmp.executeRaw('migrate', { uri });
  for (;;) {
    const info = await source.qmp.executeRaw('query-migrate');
    if (info.status === 'pre-switchover') {
      await source.qmp.executeRaw('block-job-cancel', { device: 'mirror' });
      await waitUntil(
        async () => (await source.qmp.executeRaw('query-block-jobs')).length === 0,
        30_000,
        10,
      );
      await source.qmp.executeRaw('blockdev-del', { 'node-name': 'mirror-target' });
      await target.qmp.executeRaw('nbd-server-stop');
      await source.qmp.executeRaw('migrate-continue', { state: 'pre-switchover' });
    } else if (info.status === 'completed') {
      const wallMs = performance.now() - started;
      await stopQemu(source);
      return {
        qemu: target,
        outcome: {
          totalTimeMs: info['total-time'],
          downtimeMs: info.downtime,
          bytes: info.ram?.transferred ?? 0,
          mirrorMs,
          mirrored,
          wallMs,
        },
      };
    } else if (info.status === 'failed' || performance.now() - started > RAW_TIMEOUT_MS) {
      throw new Error(`raw shared-nothing run ${i} ended ${info.status}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function sharedNothingCase(client, dataDir, work, imageDir, host1, host2, counter) {
  const rows = [];
  // Raw peer: one guest with a disk holding the data, moved back and forth.
  const outcomes = [];
  let qemu;
  try {
    const disk = join(work, 'sn-src.qcow2');
    await rawDisk(disk, true);
    qemu = await bareQemu(work, imageDir, host1.namespace, 'sn-src', '', false, disk);
    await waitUntil(
      async () => (await readFile(qemu.log, 'utf8')).includes('HEARTBEAT 3 '),
      60_000,
      200,
    );
    let at = host1;
    for (let i = 0; i < runs; i++) {
      const to = at === host1 ? host2 : host1;
      const moved = await rawSharedNothing(work, imageDir, qemu, to, counter + i);
      outcomes.push(moved.outcome);
      qemu = moved.qemu;
      at = to;
    }
  } catch (error) {
    console.log(`  raw shared-nothing stopped: ${error.message}`);
    while (outcomes.length < runs) outcomes.push(null);
  }
  if (qemu) await stopQemu(qemu).catch(() => undefined);
  rows.push({ ...summary('raw QMP (peer), TLS off', outcomes), strategy: 'precopy' });

  for (const tls of [false, true]) {
    const name = `bench-sn-${tls ? 'tls' : 'plain'}`;
    const created = await client.vms.create({
      name,
      image: 'tiny',
      memoryMiB: MEMORY_MIB,
      host: host1.name,
      pool: 'local',
      start: false,
    });
    await client.operations.wait(created.id, 300);
    const vm = await client.vms.get(name);
    await fillDisk(join(dataDir, 'hosts', host1.name, 'agent', 'vms', vm.id, 'disk.qcow2'));
    await client.operations.wait((await client.vms.action(name, { action: 'start' })).id, 300);
    await waitUntil(
      async () => (await client.vms.consoleOutput(name).catch(() => '')).includes('HEARTBEAT 3 '),
      60_000,
      200,
    );
    let at = host1.name;
    const ours = [];
    const errors = [];
    for (let i = 0; i < runs; i++) {
      const to = at === host1.name ? host2.name : host1.name;
      const started = performance.now();
      const moved = await novacronMigrate(client, name, to, 128, tls);
      if (moved.outcome) {
        moved.outcome.wallMs = performance.now() - started;
        moved.outcome.mirrorMs = moved.disk?.mirrorMs;
        moved.outcome.mirrored = moved.disk?.mirroredBytes;
      }
      ours.push(moved.outcome);
      if (moved.error) errors.push(moved.error);
      if (moved.outcome !== null) at = to;
    }
    const removed = await client.vms.delete(name, { force: true });
    await client.operations.wait(removed.id, 120);
    rows.push({
      ...summary(`NovaCron auto, TLS ${tls ? 'on' : 'off'}`, ours),
      strategy: 'auto',
      tls,
    });
    for (const error of new Set(errors))
      console.log(`  NovaCron (shared-nothing, TLS ${tls}) failed: ${error}`);
  }

  console.log(
    `\n### shared-nothing: idle guest, ${DISK_DATA_MIB} MiB of data in its local disk (${runs} runs each)`,
  );
  console.log(
    '| path | completed | median mirror (bytes) | median memory total | median downtime | median end to end |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) {
    const m = (key) => (row.done.length ? median(row.done.map((o) => o[key] ?? 0)) : undefined);
    const secs = (v) => (v === undefined ? '-' : `${(v / 1000).toFixed(2)} s`);
    console.log(
      `| ${row.label} | ${row.completed} | ${secs(m('mirrorMs'))} (${((m('mirrored') ?? 0) / MiB).toFixed(0)} MiB) | ${secs(m('totalTimeMs'))} | ${m('downtimeMs') === undefined ? '-' : `${Math.round(m('downtimeMs'))} ms`} | ${secs(m('wallMs'))} |`,
    );
  }
  const raw = rows[0];
  const plain = rows.find((r) => r.tls === false);
  const withTls = rows.find((r) => r.tls === true);
  const wall = (row) => (row?.done.length ? median(row.done.map((o) => o.wallMs)) : undefined);
  if (raw.done.length === runs && wall(plain) !== undefined) {
    console.log(
      `ratio NovaCron (TLS off) / raw median end to end: ${(wall(plain) / wall(raw)).toFixed(2)}` +
        (wall(withTls) === undefined ? '' : `; TLS on: ${(wall(withTls) / wall(raw)).toFixed(2)}`) +
        `; median downtime ratio (TLS off): ${(plain.downtimeMs / raw.downtimeMs).toFixed(2)}`,
    );
  } else {
    console.log('no ratio: the raw peer or NovaCron did not complete every run');
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
    disk: r.disk,
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
      if (key === 'sharednothing') {
        await sharedNothingCase(client, dataDir, work, imageDir, host1, host2, counter);
        counter += runs;
        continue;
      }
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
