import { execFile } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { environmentWith } from '@novacron/config';
import {
  CommandRunner,
  freePort,
  killMatching,
  makeTempDir,
  repoRoot,
  stopCommand,
  testCacheDir,
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
  const up = cli.start(['up', '--hosts', String(options.hosts)]);
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
  return { cli, path: dir.path, close };
}

/** The network namespace a process runs in (`ip netns identify`). */
export async function namespaceOf(pid: number): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'identify', String(pid)]);
  return stdout.trim();
}
