// The scheduler at scale: places --vms VMs onto --hosts hosts in one process with mixed
// constraints (10 % of VMs in anti-affinity groups, labels on 30 % of hosts, two zones), and an
// independent checker re-verifies every placement and every refusal from first principles.
// Peer, measured in the same run on the same workload: the same scheduler scoring every host
// that fits (a complete scan, no sample), over the first --peer-vms VMs.
// Usage: npm run bench:scheduler [-- --hosts 10000 --vms 100000 --peer-vms 5000 --seed 1 --json]
import { HostIndex, seededRandom } from '@novacron/scheduler';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const hostCount = arg('hosts', 10_000);
const vmCount = arg('vms', 100_000);
const peerVms = Math.min(vmCount, arg('peer-vms', 5_000));
const seed = arg('seed', 1);
const json = process.argv.includes('--json');
const OVERCOMMIT = { cpu: 4, memory: 1, disk: 1 };

/** Hosts of three sizes; 30 % carry labels (a zone, some also ssd=true). */
function makeHosts(random) {
  const shapes = [
    { cpus: 16, memoryMiB: 64 * 1024, diskGiB: 2000 },
    { cpus: 32, memoryMiB: 128 * 1024, diskGiB: 4000 },
    { cpus: 64, memoryMiB: 256 * 1024, diskGiB: 8000 },
  ];
  return Array.from({ length: hostCount }, (_, i) => {
    const labels = {};
    if (random() < 0.3) {
      labels.zone = random() < 0.5 ? 'a' : 'b';
      if (random() < 0.4) labels.ssd = 'true';
    }
    return {
      id: `h${i}`,
      name: `host-${i}`,
      state: 'ready',
      cordoned: false,
      maintenance: false,
      capacity: shapes[Math.floor(random() * shapes.length)],
      allocated: { cpus: 0, memoryMiB: 0, diskGiB: 0 },
      labels,
      load: { cpu: random(), memory: random() },
    };
  });
}

/** VM requests: four sizes; 20 % pin a zone, 5 % want ssd; 10 % in anti-affinity groups of 3-8. */
function makeRequests(random) {
  const sizes = [
    { cpus: 1, memoryMiB: 1024 },
    { cpus: 2, memoryMiB: 4096 },
    { cpus: 4, memoryMiB: 8192 },
    { cpus: 8, memoryMiB: 16384 },
  ];
  const requests = [];
  let group = 0;
  while (requests.length < vmCount) {
    const size = sizes[Math.floor(random() * sizes.length)];
    const request = { size: { ...size, diskGiB: 10 + Math.floor(random() * 90) } };
    const roll = random();
    if (roll < 0.2) request.selector = { zone: random() < 0.5 ? 'a' : 'b' };
    else if (roll < 0.25) request.selector = { ssd: 'true' };
    if (random() < 0.1 / 5.5) {
      // A group of 3-8 members (5.5 on average) keeps 10 % of the VMs in groups.
      const members = 3 + Math.floor(random() * 6);
      const strength = random() < 0.8 ? 'hard' : 'soft';
      group++;
      for (let m = 0; m < members && requests.length < vmCount; m++) {
        requests.push({ ...request, group: `bench/g${group}`, antiAffinity: strength });
      }
      continue;
    }
    requests.push(request);
  }
  return requests;
}

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/** Heap in use after a full collection (run with --expose-gc, as `npm run bench:scheduler` does). */
function heapMiB() {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 1048576;
}

function run(hosts, requests, sample) {
  const heapBefore = heapMiB();
  const index = new HostIndex({ hosts, overcommit: OVERCOMMIT });
  const random = seededRandom(seed + 1);
  const latencies = new Float64Array(requests.length);
  const choices = new Int32Array(requests.length);
  const started = performance.now();
  for (let i = 0; i < requests.length; i++) {
    const t0 = performance.now();
    const result = index.place(requests[i], { defaultPolicy: 'spread', random, sample });
    if (result.kind === 'placed') index.assign(result.index, requests[i]);
    latencies[i] = performance.now() - t0;
    choices[i] = result.kind === 'placed' ? result.index : -1;
  }
  const elapsedMs = performance.now() - started;
  // What the index holds once every VM is placed (it is still referenced here).
  const heapGrowthMiB = index.size > 0 ? heapMiB() - heapBefore : 0;
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  return {
    choices,
    elapsedMs,
    placementsPerSecond: requests.length / (elapsedMs / 1000),
    p50Us: percentile(sorted, 0.5) * 1000,
    p99Us: percentile(sorted, 0.99) * 1000,
    heapGrowthMiB,
  };
}

/**
 * Replays the choices over plain arrays and re-checks each one from first principles: the host
 * is ready, carries the selected labels, holds no member of a hard anti-affine group yet, and
 * has room after overcommit. A refusal is checked by trying every host.
 */
function check(hosts, requests, choices) {
  const used = hosts.map(() => ({ cpus: 0, memoryMiB: 0, diskGiB: 0 }));
  const members = new Map();
  const fits = (h, r) => {
    const host = hosts[h];
    if (host.state !== 'ready' || host.cordoned || host.maintenance) return false;
    for (const [k, v] of Object.entries(r.selector ?? {})) if (host.labels[k] !== v) return false;
    if (r.antiAffinity === 'hard' && members.get(r.group)?.has(h)) return false;
    return (
      used[h].cpus + r.size.cpus <= host.capacity.cpus * OVERCOMMIT.cpu &&
      used[h].memoryMiB + r.size.memoryMiB <= host.capacity.memoryMiB * OVERCOMMIT.memory &&
      used[h].diskGiB + r.size.diskGiB <= host.capacity.diskGiB * OVERCOMMIT.disk
    );
  };
  let invalid = 0;
  let refused = 0;
  let wronglyRefused = 0;
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i];
    const h = choices[i];
    if (h < 0) {
      refused++;
      if (hosts.some((_, j) => fits(j, r))) wronglyRefused++;
      continue;
    }
    if (!fits(h, r)) invalid++;
    used[h].cpus += r.size.cpus;
    used[h].memoryMiB += r.size.memoryMiB;
    used[h].diskGiB += r.size.diskGiB;
    if (r.group !== undefined) {
      if (!members.has(r.group)) members.set(r.group, new Set());
      members.get(r.group).add(h);
    }
  }
  const memoryUse = used.map((u, h) => u.memoryMiB / hosts[h].capacity.memoryMiB);
  const cpuUse = used.map((u, h) => u.cpus / (hosts[h].capacity.cpus * OVERCOMMIT.cpu));
  return { invalid, refused, wronglyRefused, memory: stats(memoryUse), cpu: stats(cpuUse) };
}

function stats(xs) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, sd };
}

const random = seededRandom(seed);
const hosts = makeHosts(random);
const requests = makeRequests(random);
const sampled = run(hosts, requests, undefined);
const sampledCheck = check(hosts, requests, sampled.choices);
const peerRequests = requests.slice(0, peerVms);
const complete = run(hosts, peerRequests, Number.POSITIVE_INFINITY);
const completeCheck = check(hosts, peerRequests, complete.choices);
const prefix = run(hosts, peerRequests, undefined);
const prefixCheck = check(hosts, peerRequests, prefix.choices);

const report = {
  hosts: hostCount,
  vms: vmCount,
  grouped: requests.filter((r) => r.group !== undefined).length,
  labelledHosts: hosts.filter((h) => Object.keys(h.labels).length > 0).length,
  sampled: { ...strip(sampled), ...sampledCheck, rssMiB: process.memoryUsage().rss / 1048576 },
  peer: {
    vms: peerVms,
    complete: { ...strip(complete), ...completeCheck },
    sampled: { ...strip(prefix), ...prefixCheck },
  },
};

function strip(result) {
  const rest = { ...result };
  delete rest.choices;
  return rest;
}

const pct = (x) => `${(x * 100).toFixed(1)} %`;
const line = (name, r) =>
  `${name.padEnd(26)} ${r.placementsPerSecond.toFixed(0).padStart(8)}/s  p50 ${r.p50Us.toFixed(1).padStart(7)} us  p99 ${r.p99Us.toFixed(1).padStart(8)} us  ` +
  `memory use ${pct(r.memory.mean)} sd ${pct(r.memory.sd)}  cpu use ${pct(r.cpu.mean)} sd ${pct(r.cpu.sd)}  ` +
  `refused ${r.refused} (wrongly ${r.wronglyRefused})  invalid ${r.invalid}`;

if (json) {
  console.log(JSON.stringify(report));
} else {
  console.log(
    `${hostCount} hosts (${report.labelledHosts} labelled), ${vmCount} VMs (${report.grouped} in anti-affinity groups), seed ${seed}, node ${process.version}`,
  );
  console.log(line(`sampled, all ${vmCount} VMs`, report.sampled));
  console.log(
    `${''.padEnd(26)} heap held by the index ${report.sampled.heapGrowthMiB.toFixed(1)} MiB${globalThis.gc ? '' : ' (no --expose-gc: not collected first)'}; process rss ${report.sampled.rssMiB.toFixed(0)} MiB`,
  );
  console.log(`peer over the first ${peerVms} VMs:`);
  console.log(line('  complete scan (peer)', report.peer.complete));
  console.log(line('  sampled', report.peer.sampled));
}
const invalid = report.sampled.invalid + report.peer.complete.invalid + report.peer.sampled.invalid;
const wrong =
  report.sampled.wronglyRefused +
  report.peer.complete.wronglyRefused +
  report.peer.sampled.wronglyRefused;
if (invalid > 0 || wrong > 0) process.exitCode = 1;
