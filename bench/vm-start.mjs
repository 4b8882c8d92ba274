// VM start latency of the tiny guest: NovaCron (API create -> READY on the console, read through
// the API) against a bare `qemu-system-x86_64` of the same guest (READY read from its serial log
// file), both polled every --poll ms (default 50), alternating, in the same run; and `virsh
// create` when libvirt is installed. Then agent memory: --vms tiny VMs of 64 MiB on one agent,
// a separate `novacron agent` process, and its RSS.
// Usage: npm run bench:vm-start [-- --runs 5 --vms 20 --poll 50]
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  READY,
  freePort,
  median,
  numberArg,
  pidsMatching,
  rawQemuArgs,
  rssMiB,
  seconds,
  startUp,
  waitUntil,
} from './lib.mjs';

const runs = numberArg('runs', 5);
const vmCount = numberArg('vms', 20);
const pollMs = numberArg('poll', 50);
const MEMORY_MIB = 256;

/** Bare QEMU with its serial console in a file, polled like the API is. */
async function bareQemuStart(imageDir, work, i) {
  const log = join(work, `bare-${i}.log`);
  await writeFile(log, '');
  const started = performance.now();
  const qemu = spawn('qemu-system-x86_64', rawQemuArgs(imageDir, MEMORY_MIB, `file:${log}`), {
    stdio: 'ignore',
  });
  let exited = false;
  qemu.once('exit', () => (exited = true));
  try {
    await waitUntil(
      async () => {
        if (exited) throw new Error('QEMU exited before READY');
        return (await readFile(log, 'utf8')).includes(READY);
      },
      120_000,
      pollMs,
    );
    return performance.now() - started;
  } finally {
    if (!exited) {
      qemu.kill('SIGKILL');
      await new Promise((r) => qemu.once('exit', r));
    }
  }
}

async function novacronStart(client, host, i) {
  const name = `start${i}`;
  const started = performance.now();
  await client.vms.create({ name, image: 'tiny', memoryMiB: MEMORY_MIB, host });
  await waitUntil(
    async () => {
      const output = await client.vms.consoleOutput(name).catch(() => '');
      return output.includes(READY);
    },
    120_000,
    pollMs,
  );
  const elapsed = performance.now() - started;
  const remove = await client.vms.delete(name, { force: true });
  await client.operations.wait(remove.id, 60);
  return elapsed;
}

const row = (name, xs) =>
  `| ${name} | ${seconds(median(xs))} s | ${seconds(Math.min(...xs))}-${seconds(Math.max(...xs))} s |`;

async function main() {
  const up = await startUp();
  try {
    const { client, run, work } = up;
    // The VMs run on a joined agent of their own, so that its RSS is the agent's alone.
    const { joinCommand } = await client.hosts.add('bench');
    const agentArgs = joinCommand.split(' ').slice(1);
    const agent = run(
      [...agentArgs, '--data-dir', join(work, 'bench-host'), '--address', '127.0.0.1'],
      {
        NOVACRON_AGENT_PORT: String(await freePort()),
      },
    );
    await waitUntil(() => agent.log.includes('agent of host bench is up'), 300_000);
    await waitUntil(
      async () => (await client.hosts.get('bench').catch(() => undefined))?.state === 'ready',
      60_000,
    );
    const image = (await client.images.get('tiny')).id;
    const imageDir = join(up.dataDir, 'images', image);

    // A first VM pulls the image to the agent: not part of a start.
    await novacronStart(client, 'bench', 'warmup');

    const novacron = [];
    const bare = [];
    for (let i = 0; i < runs; i++) {
      bare.push(await bareQemuStart(imageDir, work, i));
      novacron.push(await novacronStart(client, 'bench', i));
    }
    const virsh = spawnSync('sh', ['-c', 'command -v virsh'], { encoding: 'utf8' });
    console.log(
      `start to ${READY}, tiny guest, ${MEMORY_MIB} MiB, TCG, ${runs} runs each, alternating, polled every ${pollMs} ms`,
    );
    console.log('| path | median | range |');
    console.log('|---|---|---|');
    console.log(row('bare qemu-system-x86_64 (peer)', bare));
    console.log(row('NovaCron API create -> READY via API', novacron));
    console.log(
      `load average at the end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    if (virsh.status !== 0) console.log('libvirt not installed: skipped');
    else console.log('virsh found, but its domain definition is not written yet: skipped');
    console.log(
      `ratio NovaCron / bare QEMU (medians): ${(median(novacron) / median(bare)).toFixed(2)}`,
    );

    // Agent memory with many running VMs.
    const [agentPid] = (await pidsMatching('bench-host')).filter((pid) => pid === agent.pid);
    const idle = await rssMiB(agentPid);
    const names = Array.from({ length: vmCount }, (_, i) => `mem${i}`);
    for (const name of names) {
      await client.vms.create({ name, image: 'tiny', memoryMiB: 64, host: 'bench' });
    }
    await waitUntil(
      async () => {
        const { items } = await client.vms.list({ host: 'bench', state: 'running', limit: 100 });
        return items.length >= vmCount;
      },
      600_000,
      500,
    );
    // Let the agent settle into its steady work (heartbeats, console capture, metrics).
    await new Promise((r) => setTimeout(r, 10_000));
    const loaded = await rssMiB(agentPid);
    console.log(
      `agent RSS: ${idle.toFixed(1)} MiB with no VM, ${loaded.toFixed(1)} MiB with ${vmCount} running tiny VMs of 64 MiB`,
    );
  } finally {
    await up.close();
  }
}

await main();
