import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Vm } from '@novacron/api';
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
  type RunningCommand,
} from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The agent killed with SIGKILL while 3 VMs run, as separate processes the way a user runs them:
// its QEMU processes outlive it; started again it re-attaches to the ones still alive and
// reports them running, and one killed while it was down as crashed with its exit reason.
const ADMIN_PASSWORD = 'e2e-recovery';
const NAMES = ['rec-a', 'rec-b', 'rec-c'];

let cli: CommandRunner;
let dataDir: Awaited<ReturnType<typeof makeTempDir>>;
const running: RunningCommand[] = [];

function start(args: string[], extraEnv: Record<string, string> = {}): RunningCommand {
  const runner = new CommandRunner(cli.script, { ...cli.env, ...extraEnv });
  const command = runner.start(args);
  running.push(command);
  return command;
}

async function vm(name: string): Promise<Vm> {
  return JSON.parse(await cli.ok(['vm', 'get', name, '-o', 'json'])) as Vm;
}

beforeAll(async () => {
  dataDir = await makeTempDir();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dataDir.path,
    XDG_CONFIG_HOME: join(dataDir.path, 'config'),
    NOVACRON_DATA_DIR: join(dataDir.path, 'server'),
    NOVACRON_API_PORT: String(await freePort()),
    NOVACRON_WS_PORT: String(await freePort()),
    NOVACRON_CLUSTER_PORT: String(await freePort()),
    NOVACRON_AGENT_PORT: String(await freePort()),
    NOVACRON_HOST_TIMEOUT: '3',
    NOVACRON_HEARTBEAT_INTERVAL_MS: '500',
    NOVACRON_ACCEL: 'tcg',
    NOVACRON_ADMIN_PASSWORD: ADMIN_PASSWORD,
    NOVACRON_LOG_LEVEL: 'warn',
  };
  cli = new CommandRunner(join(repoRoot, 'apps/cli/bin/novacron.js'), env);
  await mkdir(env.NOVACRON_DATA_DIR, { recursive: true });
  await symlink(join(testCacheDir, 'tiny-image'), join(env.NOVACRON_DATA_DIR, 'cache'));
  await waitForOutput(start(['up']), 'NovaCron is up', 240_000);
  await cli.ok(['login', '--username', 'admin', '--password-stdin'], `${ADMIN_PASSWORD}\n`);
});

afterAll(async () => {
  for (const command of running.reverse()) await stopCommand(command, 'SIGKILL');
  await killMatching(dataDir.path);
  await dataDir.remove();
});

describe('agent recovery after SIGKILL', () => {
  it('re-attaches to 3 running VMs and reports a QEMU killed meanwhile as crashed', async () => {
    const added = await cli.ok(['host', 'add', 'node2']);
    const command = /^ {2}(novacron agent .*)$/m.exec(added)?.[1] ?? '';
    const agentArgs = command.split(' ').slice(1);
    const server = agentArgs[agentArgs.indexOf('--server') + 1] ?? '';
    const node2Dir = join(dataDir.path, 'node2');
    const node2Env = { NOVACRON_AGENT_PORT: String(await freePort()) };
    const where = ['--data-dir', node2Dir, '--address', '127.0.0.1'];

    let agent = start([...agentArgs, ...where], node2Env);
    await waitForOutput(agent, 'agent of host node2 is up', 240_000);
    for (const name of NAMES) {
      await cli.ok([
        'vm',
        'create',
        name,
        '--image',
        'tiny',
        '--memory',
        '128M',
        '--host',
        'node2',
      ]);
    }
    const vms = await waitFor(
      'the 3 VMs to run on node2',
      async () => {
        const all = await Promise.all(NAMES.map(vm));
        return all.every((v) => v.state === 'running' && v.host === 'node2') ? all : undefined;
      },
      180_000,
      500,
    );
    const pids = await Promise.all(vms.map(async (v) => (await pidsMatching(v.id))[0]));
    expect(pids.every((pid) => pid !== undefined)).toBe(true);

    console.info('recovery: 3 VMs running; killing the agent');
    await stopCommand(agent, 'SIGKILL');
    // QEMU outlives its agent.
    for (const [i, v] of vms.entries()) expect(await pidsMatching(v.id)).toEqual([pids[i]]);
    await waitFor(
      'the VMs to be unknown while their host is lost',
      async () => ((await vm('rec-a')).state === 'unknown' ? true : undefined),
      30_000,
      250,
    );
    // One QEMU dies while nobody watches.
    process.kill(pids[2]!, 'SIGKILL');
    await waitFor(
      'the killed QEMU to be gone',
      async () => ((await pidsMatching(vms[2]!.id)).length === 0 ? true : undefined),
      10_000,
      100,
    );

    console.info('recovery: one QEMU killed; starting the agent again');
    const restarted = Date.now();
    agent = start(['agent', '--server', server, ...where], node2Env);
    await waitForOutput(agent, 'agent of host node2 is up', 240_000);
    let seen = '';
    const after = await waitFor(
      'the server to see the VMs as they are',
      async () => {
        const all = await Promise.all(NAMES.map(vm));
        seen = all.map((v) => `${v.name}: ${v.state} (${v.stateReason ?? ''})`).join(', ');
        const [a, b, c] = all;
        return a?.state === 'running' && b?.state === 'running' && c?.state === 'error'
          ? all
          : undefined;
      },
      60_000,
      250,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; last seen: ${seen}`);
    });
    console.info(`recovery: 3 VMs reported as they are ${Date.now() - restarted} ms after restart`);
    // The same QEMU processes, not new ones.
    expect(await pidsMatching(vms[0]!.id)).toEqual([pids[0]]);
    expect(await pidsMatching(vms[1]!.id)).toEqual([pids[1]]);
    expect(after[2]?.stateReason).toMatch(/QEMU exited while the agent was down/);
    console.info(`recovery: crashed VM reason: ${after[2]?.stateReason ?? ''}`);

    for (const name of NAMES) await cli.ok(['vm', 'delete', name, '--force', '--wait']);
  }, 480_000);
});
