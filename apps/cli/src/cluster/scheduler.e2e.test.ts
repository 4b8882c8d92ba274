import type { Host, Operation, Vm } from '@novacron/api';
import { pidsMatching, waitFor, type CommandRunner } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namespaceOf, startClusterTestbed, type ClusterTestbed } from './testing.js';

// Placement and drain on `novacron up --hosts 3`: real agents in three network namespaces, real
// QEMU guests (TCG), disks on the shared pool.
const PREFIX = 'ncs';
const SUBNET = '10.199.40.0/24';

let testbed: ClusterTestbed;
let cli: CommandRunner;

async function vm(name: string): Promise<Vm> {
  return JSON.parse(await cli.ok(['vm', 'get', name, '-o', 'json'])) as Vm;
}

async function host(name: string): Promise<Host> {
  return JSON.parse(await cli.ok(['host', 'get', name, '-o', 'json'])) as Host;
}

/** The last `HEARTBEAT n uptime` the VM's current host kept. */
async function lastHeartbeat(name: string): Promise<{ n: number; uptime: number } | undefined> {
  const output = await cli.ok(['vm', 'console', name, '--output']).catch(() => '');
  const last = [...output.matchAll(/^HEARTBEAT (\d+) (\d+\.\d+)/gm)].at(-1);
  return last === undefined ? undefined : { n: Number(last[1]), uptime: Number(last[2]) };
}

async function heartbeatAfter(name: string, previous: number) {
  return waitFor(
    `a heartbeat of ${name} after #${previous}`,
    async () => {
      const beat = await lastHeartbeat(name);
      return beat !== undefined && beat.n > previous ? beat : undefined;
    },
    90_000,
    250,
  );
}

async function create(name: string, args: string[]): Promise<void> {
  await cli.ok(['vm', 'create', name, '--image', 'tiny', '--memory', '128M', ...args, '--wait']);
}

async function remove(names: string[]): Promise<void> {
  for (const name of names) await cli.ok(['vm', 'delete', name, '--force', '--wait']);
}

beforeAll(async () => {
  testbed = await startClusterTestbed({
    hosts: 3,
    prefix: PREFIX,
    subnet: SUBNET,
    password: 'scheduler-e2e',
  });
  cli = testbed.cli;
}, 300_000);

afterAll(async () => {
  await testbed?.close();
});

describe('placement on three hosts', () => {
  it('puts a hard anti-affinity group on three hosts and refuses a fourth with the reasons', async () => {
    const group = ['--group', 'web', '--anti-affinity', 'hard'];
    for (const name of ['web-1', 'web-2', 'web-3']) await create(name, group);
    const hosts = await Promise.all(
      ['web-1', 'web-2', 'web-3'].map(async (n) => (await vm(n)).host),
    );
    expect(new Set(hosts).size).toBe(3);

    const dry = await cli.ok(['vm', 'create', 'web-4', '--image', 'tiny', '--dry-run', ...group]);
    expect(dry).toMatch(/^no host fits/);
    expect(dry).toMatch(/filter affinity removed 3:/);

    const fourth = await cli.run(['vm', 'create', 'web-4', '--image', 'tiny', ...group]);
    expect(fourth.code).toBe(1);
    expect(fourth.stderr).toMatch(/^error: NO_HOST_FITS: no host fits: affinity removed 3/);
    expect(fourth.stderr).toMatch(/host\d: hard anti-affinity: 1 VM of group web already here/);
    const json = await cli.run([
      'vm',
      'create',
      'web-4',
      '--image',
      'tiny',
      ...group,
      '-o',
      'json',
    ]);
    const body = JSON.parse(json.stderr) as {
      error: { code: string; details: { explanation: { filters: { filter: string }[] } } };
    };
    expect(body.error.code).toBe('NO_HOST_FITS');
    expect(body.error.details.explanation.filters.map((f) => f.filter)).toEqual(['affinity']);
    expect((await cli.run(['vm', 'get', 'web-4'])).code).not.toBe(0);
    await remove(['web-1', 'web-2', 'web-3']);
  });

  it('keeps new VMs off a cordoned host', async () => {
    await cli.ok(['host', 'cordon', 'host1']);
    expect(await host('host1')).toMatchObject({ cordoned: true });
    for (const name of ['c-1', 'c-2', 'c-3']) await create(name, []);
    for (const name of ['c-1', 'c-2', 'c-3']) expect((await vm(name)).host).not.toBe('host1');
    const pinned = await cli.run(['vm', 'create', 'c-4', '--image', 'tiny', '--host', 'host1']);
    expect(pinned.stderr).toMatch(/NO_HOST_FITS: .*host1: host is cordoned/);
    await cli.ok(['host', 'uncordon', 'host1']);
    await remove(['c-1', 'c-2', 'c-3']);
  });
});

describe('drain', () => {
  it('live-migrates every VM off a host, their guests going on, and leaves it in maintenance', async () => {
    const names = ['d-1', 'd-2', 'd-3'];
    for (const name of names) await create(name, ['--host', 'host1']);
    const before = new Map<string, { id: string; beat: number }>();
    for (const name of names) {
      const beat = await heartbeatAfter(name, 0);
      before.set(name, { id: (await vm(name)).id, beat: beat.n });
    }

    const drained = await cli.run(['host', 'drain', 'host1', '--wait', '-o', 'json']);
    expect(drained.code, `${drained.stderr}\n${drained.stdout}`).toBe(0);
    const operation = JSON.parse(drained.stdout) as Operation;
    expect(operation).toMatchObject({ kind: 'host.drain', status: 'succeeded' });
    expect(operation.result).toMatchObject({ host: 'host1', moved: 3 });
    expect(await host('host1')).toMatchObject({ maintenance: true });

    for (const name of names) {
      const moved = await vm(name);
      expect(moved.state).toBe('running');
      expect(moved.host).not.toBe('host1');
      const { id, beat } = before.get(name)!;
      const pids = await pidsMatching(`guest=${id}`);
      expect(pids).toHaveLength(1);
      expect(await namespaceOf(pids[0]!)).toBe(`${PREFIX}-${moved.host}`);
      // The same guest: its heartbeat count goes on from before the move, no second boot.
      const next = await heartbeatAfter(name, beat);
      expect(next.n).toBeGreaterThan(beat);
      const console = await cli.ok(['vm', 'console', name, '--output']);
      expect(console).not.toContain('NOVACRON-GUEST-READY');
    }

    // In maintenance the host takes nothing new until uncordoned.
    const refused = await cli.run(['vm', 'create', 'x', '--image', 'tiny', '--host', 'host1']);
    expect(refused.stderr).toMatch(/host1: host is in maintenance/);
    const back = JSON.parse(await cli.ok(['host', 'uncordon', 'host1', '-o', 'json'])) as Host;
    expect(back).toMatchObject({ cordoned: false, maintenance: false });
  });
});
