import { mkdir, stat, symlink } from 'node:fs/promises';
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

// The README's path, as a user walks it: the built `novacron` command as separate processes.
let cli: CommandRunner;
let dataDir: Awaited<ReturnType<typeof makeTempDir>>;
let up: RunningCommand | undefined;

const novacron = (args: string[], input?: string) => cli.run(args, input);
const ok = (args: string[], input?: string) => cli.ok(args, input);

async function startUp(): Promise<void> {
  up = cli.start(['up']);
  await waitForOutput(up, 'NovaCron is up', 240_000);
}

async function stopUp(signal: NodeJS.Signals): Promise<void> {
  if (up !== undefined) await stopCommand(up, signal);
}

async function vmNamed(name: string): Promise<Vm | undefined> {
  const vms = JSON.parse(await ok(['vm', 'list', '-o', 'json'])) as Vm[];
  return vms.find((vm) => vm.name === name);
}

beforeAll(async () => {
  dataDir = await makeTempDir();
  const apiPort = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dataDir.path,
    XDG_CONFIG_HOME: join(dataDir.path, 'config'),
    NOVACRON_DATA_DIR: join(dataDir.path, 'data'),
    NOVACRON_API_PORT: String(apiPort),
    NOVACRON_AGENT_PORT: String(await freePort()),
    NOVACRON_CLUSTER_PORT: String(await freePort()),
    NOVACRON_WS_PORT: String(await freePort()),
    NOVACRON_ACCEL: 'tcg',
    NOVACRON_LOG_LEVEL: 'warn',
  };
  // Downloaded Debian packages are shared between runs; everything else starts empty.
  await mkdir(env.NOVACRON_DATA_DIR!, { recursive: true });
  await symlink(join(testCacheDir, 'tiny-image'), join(env.NOVACRON_DATA_DIR!, 'cache'));
  cli = new CommandRunner(join(repoRoot, 'apps/cli/bin/novacron.js'), env);
  await startUp();
});

afterAll(async () => {
  await stopUp('SIGKILL');
  await killMatching(dataDir.path);
  await dataDir.remove();
});

describe('the quickstart, as a user types it', () => {
  it('up prints a generated admin password once and keeps it in a 0600 file', async () => {
    const match = /admin password \(shown once, also in (\S+)\): (\S+)/.exec(up?.stderr ?? '');
    expect(match).not.toBeNull();
    const file = await stat(match![1]!);
    expect(file.mode & 0o777).toBe(0o600);
    expect(
      await ok(['login', '--username', 'admin', '--password-stdin'], `${match![2]!}\n`),
    ).toBeDefined();
  });

  it('creates a real VM that boots, lists it running, shows its console, stops and deletes it', async () => {
    await ok(['vm', 'create', 'demo', '--image', 'tiny', '--memory', '256M', '--wait']);
    const vm = await vmNamed('demo');
    expect(vm).toMatchObject({ state: 'running', memoryMiB: 256 });
    expect(vm?.host).toBeTruthy();
    expect(await ok(['vm', 'list'])).toMatch(/demo\s+running/);
    const output = await waitFor(
      'the READY marker on the console',
      async () => {
        const text = await ok(['vm', 'console', 'demo', '--output']);
        return text.includes('NOVACRON-GUEST-READY') ? text : undefined;
      },
      90_000,
      1000,
    );
    expect(output).toContain('NOVACRON-GUEST-READY');
    await ok(['vm', 'stop', 'demo', '--wait']);
    expect(await vmNamed('demo')).toMatchObject({ state: 'stopped' });
    await ok(['vm', 'delete', 'demo', '--wait']);
    expect(await vmNamed('demo')).toBeUndefined();
  });

  it('refuses bad input with a code and a one-line message, and changes nothing', async () => {
    await ok(['vm', 'create', 'taken', '--image', 'tiny', '--no-start', '--wait']);
    const before = await ok(['vm', 'list', '-o', 'json']);
    const cases: [string[], string][] = [
      [['vm', 'create', 'x1', '--image', 'nope'], 'IMAGE_NOT_FOUND'],
      [['vm', 'create', 'taken', '--image', 'tiny'], 'VM_NAME_TAKEN'],
      [['vm', 'create', 'x2', '--image', 'tiny', '--memory', '0'], 'VALIDATION_FAILED'],
      [['vm', 'create', 'x3', '--image', 'tiny', '--cpus', '4096'], 'VALIDATION_FAILED'],
      [['vm', 'create', 'x4', '--image', 'tiny', '--cpus', '200'], 'NO_HOST_FITS'],
      [['vm', 'create', 'a;reboot', '--image', 'tiny'], 'INVALID_NAME'],
      [['vm', 'create', '../../etc', '--image', 'tiny'], 'INVALID_NAME'],
    ];
    for (const [args, code] of cases) {
      const result = await novacron(args);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(new RegExp(`^error: ${code}: `));
    }
    expect(await ok(['vm', 'list', '-o', 'json'])).toBe(before);
    await ok(['vm', 'delete', 'taken', '--wait']);
  });

  it('Ctrl-C leaves VMs running, the next up finds them, down stops them', async () => {
    await ok(['vm', 'create', 'keeper', '--image', 'tiny', '--wait']);
    const vm = (await vmNamed('keeper'))!;
    await stopUp('SIGINT');
    expect(up?.process.exitCode).toBe(0);
    expect(await pidsMatching(vm.id)).toHaveLength(1);

    await startUp();
    await waitFor(
      'keeper to be seen running again',
      async () => (await vmNamed('keeper'))?.state === 'running' || undefined,
      30_000,
    );

    const down = await novacron(['down']);
    expect(down.code).toBe(0);
    expect(await pidsMatching(vm.id)).toHaveLength(0);
    await waitFor('up to exit', () => up?.process.exitCode ?? undefined, 10_000);
    expect(up?.process.exitCode).toBe(0);
  });
});
