import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Host, Vm } from '@novacron/api';
import {
  killMatching,
  makeTempDir,
  pidsMatching,
  repoRoot,
  testCacheDir,
  waitFor,
} from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A second machine joining, as a user does it (docs/adr/0008-cluster-trust.md): `host add`
// prints a command; a separate `novacron agent` process runs it with its own data directory;
// its VMs run from an image it pulled over mutual TLS; killing it makes its host unreachable
// within NOVACRON_HOST_TIMEOUT, and starting it again with only --server restores it.
const bin = join(repoRoot, 'apps/cli/bin/novacron.js');
const ADMIN_PASSWORD = 'e2e-cluster-join';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === 'object' && address !== null ? address.port : 0),
      );
    });
  });
}

interface Running {
  process: ChildProcess;
  stderr: string;
}

let env: Record<string, string>;
let dataDir: Awaited<ReturnType<typeof makeTempDir>>;
const children: Running[] = [];

function start(args: string[], extraEnv: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const running = { process: child, stderr: '' };
  child.stderr?.on('data', (chunk: Buffer) => (running.stderr += chunk.toString()));
  children.push(running);
  return running;
}

async function until(running: Running, marker: string, what: string): Promise<void> {
  await waitFor(
    what,
    () => {
      if (running.process.exitCode !== null) throw new Error(`${what}: exited: ${running.stderr}`);
      return running.stderr.includes(marker) ? true : undefined;
    },
    240_000,
  );
}

async function stop(running: Running, signal: NodeJS.Signals): Promise<void> {
  if (running.process.exitCode !== null || running.process.signalCode !== null) return;
  const exited = new Promise((resolve) => running.process.once('exit', resolve));
  running.process.kill(signal);
  await exited;
}

function novacron(
  args: string[],
  input = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

async function ok(args: string[], input?: string): Promise<string> {
  const result = await novacron(args, input);
  if (result.code !== 0) {
    throw new Error(`novacron ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  }
  return result.stdout;
}

async function host(name: string): Promise<Host | undefined> {
  return (JSON.parse(await ok(['host', 'list', '-o', 'json'])) as Host[]).find(
    (h) => h.name === name,
  );
}

async function vm(name: string): Promise<Vm> {
  return JSON.parse(await ok(['vm', 'get', name, '-o', 'json'])) as Vm;
}

beforeAll(async () => {
  dataDir = await makeTempDir();
  const apiPort = await freePort();
  env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dataDir.path,
    XDG_CONFIG_HOME: join(dataDir.path, 'config'),
    NOVACRON_DATA_DIR: join(dataDir.path, 'server'),
    NOVACRON_API_PORT: String(apiPort),
    NOVACRON_WS_PORT: String(await freePort()),
    NOVACRON_CLUSTER_PORT: String(await freePort()),
    NOVACRON_AGENT_PORT: String(await freePort()),
    NOVACRON_HOST_TIMEOUT: '3',
    NOVACRON_HEARTBEAT_INTERVAL_MS: '500',
    NOVACRON_ACCEL: 'tcg',
    NOVACRON_ADMIN_PASSWORD: ADMIN_PASSWORD,
    NOVACRON_LOG_LEVEL: 'warn',
  };
  // Downloaded Debian packages are shared between runs; everything else starts empty.
  await mkdir(env.NOVACRON_DATA_DIR!, { recursive: true });
  await symlink(join(testCacheDir, 'tiny-image'), join(env.NOVACRON_DATA_DIR!, 'cache'));
  await until(start(['up']), 'NovaCron is up', '`novacron up` to say it is up');
  await ok(['login', '--username', 'admin', '--password-stdin'], `${ADMIN_PASSWORD}\n`);
});

afterAll(async () => {
  for (const child of children.reverse()) await stop(child, 'SIGKILL');
  await killMatching(dataDir.path);
  await dataDir.remove();
});

describe('a host that joins with a token', () => {
  it('joins with the printed command, runs a VM, is lost when killed and found again', async () => {
    const added = await ok(['host', 'add', 'node2']);
    const command = /^ {2}(novacron agent .*)$/m.exec(added)?.[1];
    expect(command).toMatch(
      /^novacron agent --server https:\/\/\S+ --join ncj1\.\S+ --name node2$/,
    );
    const agentArgs = (command ?? '').split(' ').slice(1);
    const token = agentArgs[agentArgs.indexOf('--join') + 1] ?? '';
    const server = agentArgs[agentArgs.indexOf('--server') + 1] ?? '';
    const node2Dir = join(dataDir.path, 'node2');
    const node2Env = { NOVACRON_AGENT_PORT: String(await freePort()) };
    const where = ['--data-dir', node2Dir, '--address', '127.0.0.1'];

    const joinStarted = Date.now();
    let agent = start([...agentArgs, ...where], node2Env);
    await until(agent, 'agent of host node2 is up', 'the joined agent to start');
    await waitFor(
      'node2 to be ready',
      async () => (await host('node2'))?.state === 'ready' || undefined,
      30_000,
    );
    console.info(
      `cluster join: agent up and host ready ${Date.now() - joinStarted} ms after start`,
    );

    // The token was used up: a second machine cannot join with it.
    const again = await novacron([
      'agent',
      '--server',
      server,
      '--join',
      token,
      '--name',
      'node2',
      '--data-dir',
      join(dataDir.path, 'node3'),
      '--address',
      '127.0.0.1',
    ]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/^error: JOIN_TOKEN_INVALID: the join token was already used/);

    // Its first VM pulls the image from the server.
    await ok(['vm', 'create', 'web', '--image', 'tiny', '--host', 'node2', '--wait']);
    expect(await vm('web')).toMatchObject({ state: 'running', host: 'node2' });
    const { id } = await vm('web');
    expect(await pidsMatching(join(node2Dir, 'agent', 'vms', id))).toHaveLength(1);
    await waitFor(
      'READY on the console of web',
      async () =>
        (await ok(['vm', 'console', 'web', '--output'])).includes('NOVACRON-GUEST-READY') ||
        undefined,
      90_000,
      1000,
    );

    const killed = Date.now();
    await stop(agent, 'SIGKILL');
    await waitFor(
      'node2 to be unreachable',
      async () => (await host('node2'))?.state === 'unreachable' || undefined,
      20_000,
      250,
    );
    const lostMs = Date.now() - killed;
    expect(lostMs).toBeGreaterThanOrEqual(2500);
    expect(lostMs).toBeLessThan(10_000);
    expect(await vm('web')).toMatchObject({ state: 'unknown' });
    console.info(`cluster join: killed agent's host unreachable after ${lostMs} ms (timeout 3 s)`);

    // Later starts need only the server: the identity is in the data directory.
    agent = start(['agent', '--server', server, ...where], node2Env);
    await until(agent, 'agent of host node2 is up', 'the agent to start again');
    await waitFor(
      'web to be running again',
      async () => (await vm('web')).state === 'running' || undefined,
      30_000,
      250,
    );
    expect((await host('node2'))?.state).toBe('ready');

    await ok(['vm', 'delete', 'web', '--force', '--wait']);
  });
});
