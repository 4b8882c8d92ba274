import { execFile } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { environmentWith } from '@novacron/config';
import type { Operation, Vm } from '@novacron/api';
import {
  CommandRunner,
  freePort,
  killMatching,
  makeTempDir,
  pidsMatching,
  repoRoot,
  stopCommand,
  testCacheDir,
  waitFor,
  waitForOutput,
} from '@novacron/testkit';

// Test support: `novacron up --hosts N` as its own process, as a user runs it. Never used on a
// user path.

const run = promisify(execFile);

export interface ClusterTestbed {
  /** The CLI with this cluster's settings, logged in as admin. */
  cli: CommandRunner;
  /** Temporary folder holding the data directory; every process of the cluster runs under it. */
  path: string;
  /**
   * Kills `up` (the server) with SIGKILL, as a crash, and starts it again; the agents and their
   * guests run on meanwhile. Resolves once the new server is up.
   */
  crashServer(): Promise<void>;
  /** What `up` (the server and its agents' supervisor) wrote on stderr since its last start. */
  serverLog(): string;
  /** Stops `up`, takes the cluster down, kills what is left under the folder and removes it. */
  close(): Promise<void>;
}

/**
 * Starts a cluster of `hosts` agents in network namespaces `<prefix>-hostN` on `subnet`, under TCG,
 * on free ports, with the test image cache linked in; `env` adds or overrides NOVACRON_* settings.
 */
export async function startClusterTestbed(options: {
  hosts: number;
  prefix: string;
  subnet: string;
  password: string;
  env?: Record<string, string>;
}): Promise<ClusterTestbed> {
  const dir = await makeTempDir();
  const dataDir = join(dir.path, 'data');
  await mkdir(dataDir, { recursive: true });
  await symlink(join(testCacheDir, 'tiny-image'), join(dataDir, 'cache'));
  const cli = new CommandRunner(join(repoRoot, 'apps/cli/bin/novacron.js'), {
    PATH: environmentWith({}).PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir.path,
    XDG_CONFIG_HOME: join(dir.path, 'config'),
    NOVACRON_DATA_DIR: dataDir,
    NOVACRON_API_PORT: String(await freePort()),
    NOVACRON_WS_PORT: String(await freePort()),
    NOVACRON_CLUSTER_PORT: String(await freePort()),
    NOVACRON_CLUSTER_SUBNET: options.subnet,
    NOVACRON_CLUSTER_PREFIX: options.prefix,
    NOVACRON_ACCEL: 'tcg',
    NOVACRON_ADMIN_PASSWORD: options.password,
    NOVACRON_HEARTBEAT_INTERVAL_MS: '1000',
    NOVACRON_LOG_LEVEL: 'warn',
    ...options.env,
  });
  const args = ['up', '--hosts', String(options.hosts)];
  let up = cli.start(args);
  const crashServer = async () => {
    await stopCommand(up, 'SIGKILL');
    up = cli.start(args);
    await waitForOutput(up, 'NovaCron is up', 90_000);
  };
  const close = async () => {
    await stopCommand(up, 'SIGTERM');
    await cli.run(['down']);
    await killMatching(dir.path);
    await dir.remove();
  };
  try {
    await waitForOutput(up, 'NovaCron is up', 180_000);
    await cli.ok(['login', '--password-stdin'], `${options.password}\n`);
  } catch (error) {
    await close();
    throw error;
  }
  return { cli, path: dir.path, crashServer, serverLog: () => up.stderr, close };
}

/** The network namespace a process runs in (`ip netns identify`). */
export async function namespaceOf(pid: number): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'identify', String(pid)]);
  return stdout.trim();
}

/** The VM as `vm get` shows it. */
export async function vmOf(cli: CommandRunner, name: string): Promise<Vm> {
  return JSON.parse(await cli.ok(['vm', 'get', name, '-o', 'json'])) as Vm;
}

/** The operation as `operation get` shows it. */
export async function operationOf(cli: CommandRunner, id: string): Promise<Operation> {
  return JSON.parse(await cli.ok(['operation', 'get', id, '-o', 'json'])) as Operation;
}

/** The last `HEARTBEAT n uptime` the tiny guest printed on the console its current host kept. */
export async function lastHeartbeat(
  cli: CommandRunner,
  name: string,
): Promise<{ n: number; uptime: number }> {
  const output = await cli.ok(['vm', 'console', name, '--output']);
  const beats = [...output.matchAll(/^HEARTBEAT (\d+) (\d+\.\d+)/gm)];
  const last = beats.at(-1);
  if (last === undefined) throw new Error(`no heartbeat in the console of ${name}`);
  return { n: Number(last[1]), uptime: Number(last[2]) };
}

/** Waits (up to a minute) for a heartbeat after #`previous`: the guest goes on running. */
export async function heartbeatAfter(cli: CommandRunner, name: string, previous: number) {
  return waitFor(
    `a heartbeat of ${name} after #${previous}`,
    async () => {
      const beat = await lastHeartbeat(cli, name).catch(() => undefined);
      return beat !== undefined && beat.n > previous ? beat : undefined;
    },
    60_000,
    250,
  );
}

/** The one QEMU of the VM, and the network namespace it runs in (waits until only one is left). */
export async function qemuOf(
  id: string,
  timeoutMs = 15_000,
): Promise<{ pid: number; namespace: string }> {
  const pids = await waitFor(
    `exactly one QEMU of ${id}`,
    async () => {
      const found = await pidsMatching(`guest=${id}`);
      return found.length === 1 ? found : undefined;
    },
    timeoutMs,
    200,
  );
  return { pid: pids[0]!, namespace: await namespaceOf(pids[0]!) };
}
