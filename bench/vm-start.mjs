// VM start latency of the tiny guest: NovaCron (API create -> READY on the console, read through
// the API) against a bare `qemu-system-x86_64` of the same guest (READY read from its serial log
// file), both polled every --poll ms (default 50), alternating, in the same run, with a third
// path between them: bare QEMU with NovaCron's own command line (what its devices cost); and `virsh
// create` when libvirt is installed. A NovaCron start is taken apart with the agent's 'VM started'
// log line (time of each step) and the CPU time of QEMU, the server and the agent. Then agent
// memory: --vms tiny VMs of 128 MiB (the guest does not boot in 64) on one agent, a separate `novacron agent` process started
// through the bin's `#!` line as a user starts it, and its RSS.
// Usage: npm run bench:vm-start [-- --runs 5 --vms 20 --poll 50]
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { buildQemuArgs, vmFiles } from '@novacron/qemu';
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
const MEMORY_VM_MIB = 128;

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
    return { elapsed: performance.now() - started, qemuCpu: await cpuMs(qemu.pid) };
  } finally {
    if (!exited) {
      qemu.kill('SIGKILL');
      await new Promise((r) => qemu.once('exit', r));
    }
  }
}

/** CPU time (user + system) of a process so far, in ms, from /proc. */
async function cpuMs(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}
const TICKS_PER_SECOND = Number(
  spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100,
);

/** The agent's 'VM started' log line of VM `name`: its step times and when it was written. */
function startedLine(agent, name) {
  for (const line of agent.out.split('\n')) {
    if (!line.includes('"VM started"')) continue;
    const entry = JSON.parse(line);
    if (entry.name === name) return entry;
  }
  return undefined;
}

/**
 * One start through the API, taken apart with the agent's step times: the server's part (route,
 * placement, operation, the mutual-TLS call) up to the agent's PUT, the agent's steps up to the
 * spawn, then QEMU's start and the guest's boot to READY as read through the API. Also the CPU
 * time the server and the agent spent meanwhile, which the guest's vCPU competes with.
 */
/**
 * Bare QEMU with NovaCron's own command line (the same builder: VGA and VNC, PCIe root ports,
 * virtio-blk on a fresh qcow2, virtio-net on a tap, sandbox, QMP sockets, serial logfile),
 * polled like the peer: what the devices cost, apart from the API and the agent.
 */
async function equivalentQemuStart(imageDir, work, i, tap) {
  const dir = join(work, `equivalent-${i}`);
  await mkdir(dir, { recursive: true });
  const files = vmFiles(dir);
  spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', files.disk, String(10 * 2 ** 30)]);
  const spec = {
    id: `equivalent${i}`,
    name: `equivalent${i}`,
    cpus: 1,
    memoryMiB: MEMORY_MIB,
    diskGiB: 10,
    image: {
      id: 'tiny',
      name: 'tiny',
      kind: 'kernel',
      sha256: '0'.repeat(64),
      defaultKernelArgs: 'quiet',
    },
    kernelArgs: '',
    machineType: 'pc-q35-7.2',
    desiredState: 'running',
  };
  const args = buildQemuArgs(
    spec,
    { ...files, kernel: join(imageDir, 'vmlinuz'), initrd: join(imageDir, 'initrd.img') },
    'tcg',
    tap ? { nic: { tap, mac: '52:54:00:00:be:01' } } : {},
  );
  const started = performance.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: 'ignore' });
  let exited = false;
  qemu.once('exit', () => (exited = true));
  try {
    await waitUntil(
      async () => {
        if (exited) throw new Error('QEMU exited before READY');
        return (await readFile(files.consoleLog, 'utf8').catch(() => '')).includes(READY);
      },
      120_000,
      pollMs,
    );
    return { elapsed: performance.now() - started, qemuCpu: await cpuMs(qemu.pid) };
  } finally {
    if (!exited) {
      qemu.kill('SIGKILL');
      await new Promise((r) => qemu.once('exit', r));
    }
  }
}

async function novacronStart(client, host, i, pids) {
  const name = `start${i}`;
  const cpuBefore = await Promise.all(pids.map(cpuMs));
  const startedAt = Date.now();
  const started = performance.now();
  await client.vms.create({ name, image: 'tiny', memoryMiB: MEMORY_MIB, host });
  let qemuCpu = NaN;
  await waitUntil(
    async () => {
      const output = await client.vms.consoleOutput(name).catch(() => '');
      if (!output.includes(READY)) return false;
      const pid = pids.agent && startedLine(pids.agent, name)?.pid;
      if (pid) qemuCpu = await cpuMs(pid).catch(() => NaN);
      return true;
    },
    120_000,
    pollMs,
  );
  const elapsed = performance.now() - started;
  const readyAt = Date.now();
  const cpuAfter = await Promise.all(pids.map(cpuMs));
  const remove = await client.vms.delete(name, { force: true });
  await client.operations.wait(remove.id, 60);
  const log = pids.agent && startedLine(pids.agent, name);
  if (!log) return { elapsed };
  const { spec, disk, image, nic, prepare, spawn, qmp } = log.steps;
  const spawnedAt = log.time - qmp;
  return {
    elapsed,
    steps: {
      'server: route, placement, operation, call to the agent':
        spawnedAt - (spec + prepare + spawn) - startedAt,
      'agent: spec written': spec,
      'agent: disk, image and tap device, side by side': prepare,
      '- of which the disk (qemu-img create)': disk,
      '- of which the image (cached)': image,
      '- of which the tap device (ip)': nic,
      'agent: command line and spawn': spawn,
      'QEMU spawn -> READY read through the API': readyAt - spawnedAt,
      '(QMP answered, after spawn; overlaps the boot)': qmp,
    },
    cpu: {
      qemu: qemuCpu,
      server: cpuAfter[0] - cpuBefore[0],
      agent: cpuAfter[1] - cpuBefore[1],
    },
  };
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
        // For its 'VM started' lines with the time of each step.
        NOVACRON_LOG_LEVEL: 'info',
      },
      { asProgram: true },
    );
    await waitUntil(() => agent.log.includes('agent of host bench is up'), 300_000);
    await waitUntil(
      async () => (await client.hosts.get('bench').catch(() => undefined))?.state === 'ready',
      60_000,
    );
    const image = (await client.images.get('tiny')).id;
    const imageDir = join(up.dataDir, 'images', image);

    const pids = [up.up.pid, agent.pid];
    pids.agent = agent;
    // A first VM pulls the image to the agent: not part of a start.
    await novacronStart(client, 'bench', 'warmup', pids);

    const novacron = [];
    const bare = [];
    const bareCpu = [];
    const equivalent = [];
    const equivalentCpu = [];
    const parts = [];
    // A tap of its own for the equivalent command line's NIC (root only; without it, no NIC).
    const tap = `ncbench${process.pid % 100000}`;
    const tapMade = spawnSync('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']).status === 0;
    for (let i = 0; i < runs; i++) {
      const peer = await bareQemuStart(imageDir, work, i);
      bare.push(peer.elapsed);
      bareCpu.push(peer.qemuCpu);
      const same = await equivalentQemuStart(imageDir, work, i, tapMade ? tap : undefined);
      equivalent.push(same.elapsed);
      equivalentCpu.push(same.qemuCpu);
      const start = await novacronStart(client, 'bench', i, pids);
      novacron.push(start.elapsed);
      parts.push(start);
    }
    if (tapMade) spawnSync('ip', ['link', 'delete', tap]);
    const virsh = spawnSync('sh', ['-c', 'command -v virsh'], { encoding: 'utf8' });
    console.log(
      `start to ${READY}, tiny guest, ${MEMORY_MIB} MiB, TCG, ${runs} runs each, alternating, polled every ${pollMs} ms`,
    );
    console.log('| path | median | range |');
    console.log('|---|---|---|');
    console.log(row('bare qemu-system-x86_64 (peer)', bare));
    console.log(
      row(`bare QEMU, NovaCron's command line${tapMade ? '' : ' (no NIC: not root)'}`, equivalent),
    );
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
    console.log(
      `ratio NovaCron / bare QEMU with NovaCron's command line (medians): ${(median(novacron) / median(equivalent)).toFixed(2)}`,
    );
    const withSteps = parts.filter((p) => p.steps);
    if (withSteps.length > 0) {
      const ms = (xs) =>
        `${median(xs).toFixed(0)} ms | ${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)} ms |`;
      console.log(
        `\nwhere a NovaCron start goes (${withSteps.length} runs, from the agent's log):`,
      );
      console.log('| step | median | range |');
      console.log('|---|---|---|');
      for (const step of Object.keys(withSteps[0].steps)) {
        console.log(`| ${step} | ${ms(withSteps.map((p) => p.steps[step]))}`);
      }
      console.log(`| bare QEMU spawn -> READY read from its file (peer) | ${ms(bare)}`);
      console.log(`| CPU time of QEMU up to READY | ${ms(withSteps.map((p) => p.cpu.qemu))}`);
      console.log(`| CPU time of the bare QEMU up to READY (peer) | ${ms(bareCpu)}`);
      console.log(`| CPU time of QEMU with NovaCron's command line, bare | ${ms(equivalentCpu)}`);
      for (const who of ['server', 'agent']) {
        console.log(
          `| CPU time of the ${who} process during the start | ${ms(withSteps.map((p) => p.cpu[who]))}`,
        );
      }
    }

    // Agent memory with many running VMs.
    const [agentPid] = (await pidsMatching('bench-host')).filter((pid) => pid === agent.pid);
    const idle = await rssMiB(agentPid);
    const names = Array.from({ length: vmCount }, (_, i) => `mem${i}`);
    for (const name of names) {
      // no_timer_check: on a loaded host the kernel's early timer check can fail and panic.
      await client.vms.create({
        name,
        image: 'tiny',
        memoryMiB: MEMORY_VM_MIB,
        host: 'bench',
        kernelArgs: 'no_timer_check',
      });
    }
    // Running means booted: every guest's READY on its console (a QEMU alone is not enough; in
    // 64 MiB the tiny guest resets in a loop while QEMU runs on).
    const booted = new Set();
    await waitUntil(
      async () => {
        for (const name of names.filter((n) => !booted.has(n))) {
          const output = await client.vms.consoleOutput(name).catch(() => '');
          if (output.includes(READY)) booted.add(name);
        }
        return booted.size === vmCount;
      },
      900_000,
      2_000,
    );
    // Let the agent settle into its steady work (heartbeats, console capture, metrics).
    await new Promise((r) => setTimeout(r, 10_000));
    const loaded = await rssMiB(agentPid);
    console.log(
      `agent RSS: ${idle.toFixed(1)} MiB with no VM, ${loaded.toFixed(1)} MiB with ${vmCount} booted tiny VMs of ${MEMORY_VM_MIB} MiB`,
    );
  } finally {
    await up.close();
  }
}

await main();
