// What the benchmarks share: statistics, ports, polling, the bare QEMU peer and `novacron up`.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NovaCronClient } from '@novacron/client';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const cliBin = join(root, 'apps/cli/bin/novacron.js');
export const READY = 'NOVACRON-GUEST-READY';

/** `--name N` from the command line, or the fallback. */
export function numberArg(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const seconds = (ms) => (ms / 1000).toFixed(2);

export function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Ids of the processes whose command line contains `text`. */
export async function pidsMatching(text) {
  const pids = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) pids.push(Number(entry));
  }
  return pids;
}

/** Resident memory of a process in MiB, from /proc. */
export async function rssMiB(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024;
}

/** Polls `probe` every `intervalMs` until it answers true. */
export async function waitUntil(probe, timeoutMs, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error('timed out');
}

/** Raw QEMU: the peer, with the same machine, CPU model, memory and kernel as NovaCron uses. */
export function rawQemuArgs(imageDir, memoryMiB, serial = 'stdio') {
  return [
    '-machine',
    'pc-q35-7.2',
    '-accel',
    'tcg',
    '-cpu',
    'qemu64,-pni',
    '-m',
    `${memoryMiB}M`,
    '-smp',
    '1',
    '-nodefaults',
    '-nographic',
    '-serial',
    serial,
    '-kernel',
    join(imageDir, 'vmlinuz'),
    '-initrd',
    join(imageDir, 'initrd.img'),
    '-append',
    'quiet console=ttyS0',
  ];
}

/**
 * `novacron up` as a separate process in a fresh data directory (the test image cache linked
 * in), logged in as admin. `close()` stops it and removes the directory.
 */
export async function startUp(password = 'bench-password', options = {}) {
  const work = await mkdtemp(join(tmpdir(), 'nc-bench-'));
  const dataDir = join(work, 'data');
  await mkdir(dataDir, { recursive: true });
  await symlink(join(root, '.cache', 'tiny-image'), join(dataDir, 'cache'));
  const apiPort = await freePort();
  const env = {
    ...process.env,
    NOVACRON_DATA_DIR: dataDir,
    NOVACRON_API_PORT: String(apiPort),
    NOVACRON_AGENT_PORT: String(await freePort()),
    NOVACRON_CLUSTER_PORT: String(await freePort()),
    NOVACRON_WS_PORT: String(await freePort()),
    NOVACRON_ACCEL: 'tcg',
    NOVACRON_ADMIN_PASSWORD: password,
    NOVACRON_LOG_LEVEL: 'warn',
    ...options.env,
  };
  const children = [];
  // `asProgram`: through the bin's `#!` line and the settings it carries, as a user starts it.
  const run = (args, extraEnv = {}, { asProgram = false } = {}) => {
    const [command, commandArgs] = asProgram
      ? [cliBin, args]
      : [process.execPath, [cliBin, ...args]];
    const child = spawn(command, commandArgs, {
      env: { ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.log = '';
    child.stderr.on('data', (c) => (child.log += c.toString()));
    // The JSON log lines (pino writes to standard output).
    child.out = '';
    child.stdout.on('data', (c) => (child.out += c.toString()));
    children.push(child);
    return child;
  };
  const up = run(options.upArgs ?? ['up']);
  const close = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    const down = spawn(process.execPath, [cliBin, 'down'], { env, stdio: 'ignore' });
    await new Promise((r) => down.once('exit', r));
    await new Promise((r) => setTimeout(r, 3000));
    // QEMU outlives its agent by design: end the ones this run started.
    for (const pid of await pidsMatching(work)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    await rm(work, { recursive: true, force: true });
  };
  try {
    await waitUntil(() => up.log.includes('NovaCron is up'), 300_000);
    const baseUrl = `http://127.0.0.1:${apiPort}`;
    const { accessToken } = await new NovaCronClient({ baseUrl }).login('admin', password);
    const client = new NovaCronClient({ baseUrl, token: accessToken });
    return { work, dataDir, env, client, run, close, up };
  } catch (error) {
    await close();
    throw error;
  }
}
