// Boot time of the tiny guest: NovaCron (API create -> READY on the console through the API)
// against raw QEMU started by hand with an equivalent command line, in the same run.
// Usage: npm run bench:boot [-- --runs 5]
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NovaCronClient } from '@novacron/client';

const root = fileURLToPath(new URL('..', import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const READY = 'NOVACRON-GUEST-READY';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const seconds = (ms) => (ms / 1000).toFixed(2);

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitUntil(probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out');
}

/** Raw QEMU: the peer, with the same machine, CPU model, memory and kernel as NovaCron uses. */
async function rawQemuBoot(imageDir) {
  const started = performance.now();
  const qemu = spawn(
    'qemu-system-x86_64',
    [
      '-machine',
      'pc-q35-7.2',
      '-accel',
      'tcg',
      '-cpu',
      'qemu64,-pni',
      '-m',
      '256M',
      '-smp',
      '1',
      '-nodefaults',
      '-nographic',
      '-serial',
      'stdio',
      '-kernel',
      join(imageDir, 'vmlinuz'),
      '-initrd',
      join(imageDir, 'initrd.img'),
      '-append',
      'quiet console=ttyS0',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let output = '';
  const elapsed = await new Promise((resolve, reject) => {
    qemu.stdout.on('data', (chunk) => {
      output += chunk.toString();
      if (output.includes(READY)) resolve(performance.now() - started);
    });
    qemu.on('exit', () => reject(new Error('QEMU exited before READY')));
  });
  qemu.kill('SIGKILL');
  return elapsed;
}

async function main() {
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
    NOVACRON_ADMIN_PASSWORD: 'bench-password',
    NOVACRON_LOG_LEVEL: 'warn',
  };
  const up = spawn(process.execPath, [join(root, 'apps/cli/bin/novacron.js'), 'up'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let upLog = '';
  up.stderr.on('data', (c) => (upLog += c.toString()));
  try {
    await waitUntil(() => upLog.includes('NovaCron is up'), 300_000);
    const baseUrl = `http://127.0.0.1:${apiPort}`;
    const { accessToken } = await new NovaCronClient({ baseUrl }).login('admin', 'bench-password');
    const client = new NovaCronClient({ baseUrl, token: accessToken });
    const image = (await client.images.get('tiny')).id;
    const imageDir = join(dataDir, 'images', image);

    const novacron = [];
    const raw = [];
    for (let i = 0; i < runs; i++) {
      // Alternate the two so that machine noise falls on both alike.
      raw.push(await rawQemuBoot(imageDir));
      const started = performance.now();
      const operation = await client.vms.create({
        name: `bench${i}`,
        image: 'tiny',
        memoryMiB: 256,
      });
      await client.operations.wait(operation.id, 120);
      await waitUntil(
        async () => (await client.vms.consoleOutput(`bench${i}`)).includes(READY),
        120_000,
      );
      novacron.push(performance.now() - started);
      const stop = await client.vms.action(`bench${i}`, { action: 'stop', force: true });
      await client.operations.wait(stop.id, 60);
      await client.operations.wait((await client.vms.delete(`bench${i}`, {})).id, 60);
    }
    const row = (name, xs) =>
      `| ${name} | ${seconds(median(xs))} s | ${seconds(Math.min(...xs))}-${seconds(Math.max(...xs))} s |`;
    console.log(`boot to ${READY}, tiny guest, 256 MiB, TCG, ${runs} runs each, alternating`);
    console.log('| path | median | range |');
    console.log('|---|---|---|');
    console.log(row('raw QEMU (peer)', raw));
    console.log(row('NovaCron API create -> READY via API', novacron));
    console.log(
      `ratio NovaCron / raw QEMU (medians): ${(median(novacron) / median(raw)).toFixed(2)}`,
    );
  } finally {
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
    spawn(process.execPath, [join(root, 'apps/cli/bin/novacron.js'), 'down'], {
      env,
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 3000));
    await rm(work, { recursive: true, force: true });
  }
}

await main();
