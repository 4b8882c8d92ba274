import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Host, Vm } from '@novacron/api';
import { pidsMatching, waitFor, type CommandRunner } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namespaceOf, startClusterTestbed, type ClusterTestbed } from './testing.js';

// `novacron up --hosts 3`: a real cluster on one machine, each agent and its QEMUs in a network
// namespace of its own, joined over a bridge with tokens and mutual TLS.
const run = promisify(execFile);
const PREFIX = 'nce';
const SUBNET = '10.199.10.0/24';

let testbed: ClusterTestbed;
let cli: CommandRunner;

async function hosts(): Promise<Host[]> {
  return JSON.parse(await cli.ok(['host', 'list', '-o', 'json'])) as Host[];
}

async function vm(name: string): Promise<Vm> {
  return JSON.parse(await cli.ok(['vm', 'get', name, '-o', 'json'])) as Vm;
}

beforeAll(async () => {
  testbed = await startClusterTestbed({
    hosts: 3,
    prefix: PREFIX,
    subnet: SUBNET,
    password: 'cluster-e2e',
    env: { NOVACRON_HOST_TIMEOUT: '4' },
  });
  cli = testbed.cli;
});

afterAll(async () => {
  await testbed?.close();
});

describe('a cluster on one machine', () => {
  it('lists three ready hosts, each agent in its own network namespace', async () => {
    const listed = await hosts();
    expect(listed.map((h) => [h.name, h.state])).toEqual([
      ['host1', 'ready'],
      ['host2', 'ready'],
      ['host3', 'ready'],
    ]);
    for (const host of listed) {
      const [agent] = await pidsMatching(`--name\0${host.name}\0`);
      expect(agent, host.name).toBeDefined();
      expect(await namespaceOf(agent!)).toBe(`${PREFIX}-${host.name}`);
    }
  });

  it('places a VM on each named host, its QEMU inside that host’s namespace', async () => {
    await Promise.all(
      [1, 2, 3].map((n) =>
        cli.ok(['vm', 'create', `vm${n}`, '--image', 'tiny', '--host', `host${n}`, '--wait']),
      ),
    );
    for (const n of [1, 2, 3]) {
      const placed = await vm(`vm${n}`);
      expect(placed).toMatchObject({ state: 'running', host: `host${n}` });
      const [qemu] = await pidsMatching(`guest=${placed.id}`);
      expect(await namespaceOf(qemu!)).toBe(`${PREFIX}-host${n}`);
    }
  });

  it('marks a host whose agent dies unreachable and its VMs unknown, and restores them', async () => {
    const [agent] = await pidsMatching(`--name\0host2\0`);
    process.kill(agent!, 'SIGKILL');
    await waitFor(
      'host2 unreachable and vm2 unknown',
      async () => {
        const host2 = (await hosts()).find((h) => h.name === 'host2');
        return host2?.state === 'unreachable' && (await vm('vm2')).state === 'unknown'
          ? true
          : undefined;
      },
      20_000,
      300,
    );
    // The guest itself never stopped: `up` restarts the agent, which finds it again.
    await waitFor(
      'host2 ready and vm2 running again',
      async () => {
        const host2 = (await hosts()).find((h) => h.name === 'host2');
        return host2?.state === 'ready' && (await vm('vm2')).state === 'running' ? true : undefined;
      },
      60_000,
      500,
    );
  });

  it('down stops every VM and removes the namespaces and the bridge', async () => {
    const ids = await Promise.all([1, 2, 3].map(async (n) => (await vm(`vm${n}`)).id));
    const down = await cli.run(['down']);
    expect(down.code, down.stderr).toBe(0);
    for (const id of ids) expect(await pidsMatching(`guest=${id}`)).toEqual([]);
    const { stdout: namespaces } = await run('ip', ['netns', 'list']);
    expect(namespaces).not.toContain(`${PREFIX}-host`);
    await expect(run('ip', ['link', 'show', `${PREFIX}br0`])).rejects.toThrow();
  });
});
