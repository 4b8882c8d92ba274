import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Operation } from '@novacron/api';
import { pidsMatching, waitFor, type CommandRunner } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planTestbed } from './netns.js';
import {
  heartbeatAfter,
  lastHeartbeat,
  operationOf,
  qemuOf,
  startClusterTestbed,
  vmOf,
  type ClusterTestbed,
} from './testing.js';

// Faults in the middle of a live migration on `novacron up --hosts 2` (disks on the shared pool):
// an agent killed on either side, the link between the hosts cut, the server killed and started
// again. Whatever happens, the guest ends running on exactly one host with its heartbeat going on,
// the store says which, and the operation ends completed or rolled back with its reason.
const PREFIX = 'ncf';
const SUBNET = '10.199.30.0/24';
const NAME = 'victim';
const run = promisify(execFile);
/** Rounds of every fault on one cluster: one in CI; `NOVACRON_FAULT_ROUNDS=5` for a soak. */
const ROUNDS = Number(process.env.NOVACRON_FAULT_ROUNDS ?? '1');

let testbed: ClusterTestbed;
let cli: CommandRunner;

/** The other host of the two. */
function otherHost(host: string | null): string {
  return host === 'host1' ? 'host2' : 'host1';
}

/** Starts a slow migration (4 MiB/s for a guest that keeps writing) and waits until bytes move. */
async function startSlowMigration(to: string): Promise<Operation> {
  const accepted = JSON.parse(
    await cli.ok([
      'vm',
      'migrate',
      NAME,
      '--to',
      to,
      '--strategy',
      'precopy',
      '--max-bandwidth',
      '4M',
      // Room enough for the last round of a guest that keeps writing, so the run can finish.
      '--max-downtime',
      '1s',
      '-o',
      'json',
    ]),
  ) as Operation;
  await waitFor(
    'the migration stream to move bytes',
    async () => {
      const op = await operationOf(cli, accepted.id);
      if (op.status !== 'running') throw new Error(`migration ended early: ${JSON.stringify(op)}`);
      return op.phase === 'transferring' && op.progress > 12 ? op : undefined;
    },
    60_000,
    200,
  );
  return accepted;
}

/** Waits for the operation to end (completed, failed or cancelled) and returns it. */
async function ended(id: string): Promise<Operation> {
  return waitFor(
    `operation ${id} to end`,
    async () => {
      const op = await operationOf(cli, id).catch(() => undefined);
      return op !== undefined && op.status !== 'running' && op.status !== 'pending'
        ? op
        : undefined;
    },
    300_000,
    500,
  );
}

/** The `novacron agent` process of one host of this testbed. */
async function agentPid(host: string): Promise<number> {
  const pids = await pidsMatching(`--name\0${host}\0--data-dir\0${testbed.path}/`);
  expect(pids, `agent of ${host}`).toHaveLength(1);
  return pids[0]!;
}

/**
 * What a user relies on after any fault: the store says running on host H, exactly one QEMU of
 * the guest exists and it runs in H's namespace, and the guest's heartbeat goes on past `beat`.
 */
async function expectOneRunningGuest(beat: number): Promise<string> {
  const settled = await waitFor(
    'the VM to settle running',
    async () => {
      const vm = await vmOf(cli, NAME);
      if (vm.state === 'running' && vm.host !== null) return vm;
      throw new Error(`${vm.state} on ${vm.host ?? 'no host'}: ${vm.stateReason ?? ''}`);
    },
    120_000,
    500,
  );
  const qemu = await qemuOf(settled.id, 120_000);
  expect(qemu.namespace).toBe(`${PREFIX}-${settled.host ?? ''}`);
  await heartbeatAfter(cli, NAME, beat);
  // Still so a while later: nothing settles it differently afterwards.
  const again = await vmOf(cli, NAME);
  expect(again).toMatchObject({ state: 'running', host: settled.host });
  expect((await qemuOf(settled.id)).namespace).toBe(qemu.namespace);
  return settled.host ?? '';
}

/**
 * After a fault: the operation ended succeeded (the guest moved) or failed with a reason (it
 * stayed), and exactly one guest runs where the store says.
 */
async function expectSettled(operation: Operation, from: string, to: string, beat: number) {
  const told = `the operation: ${JSON.stringify(operation)}\nserver log:\n${testbed.serverLog().slice(-4000)}`;
  const host = await expectOneRunningGuest(beat).catch((error: unknown) => {
    throw new Error(`${String(error)}; ${told}`);
  });
  // How it ended, for the record of a soak run.
  console.info(
    `${operation.status}: ${operation.error?.message ?? `moved ${from} -> ${to}`}; runs on ${host}`,
  );
  if (operation.status === 'succeeded') {
    expect(host, told).toBe(to);
  } else {
    expect(operation.status, told).toBe('failed');
    expect(operation.error?.message ?? '', told).not.toBe('');
    expect(host, told).toBe(from);
  }
}

beforeAll(async () => {
  testbed = await startClusterTestbed({
    hosts: 2,
    prefix: PREFIX,
    subnet: SUBNET,
    password: 'migration-faults',
    // Hosts are declared unreachable (and restarted by `up`) within a few seconds, and a cut link
    // stalls a migration within 20 s (at 4 MB/s a moving stream sends 80 MB in that time).
    env: { NOVACRON_HOST_TIMEOUT: '5', NOVACRON_MIGRATION_STALL_TIMEOUT: '20' },
  });
  cli = testbed.cli;
  await cli.ok([
    'vm',
    'create',
    NAME,
    '--image',
    'tiny',
    '--host',
    'host1',
    '--kernel-args',
    'workload=dirty dirty_mib_s=1 wss_mib=8',
    '--wait',
  ]);
  await heartbeatAfter(cli, NAME, 0);
}, 300_000);

afterAll(async () => {
  await testbed?.close();
});

describe.each(Array.from({ length: ROUNDS }, (_, i) => i + 1))(
  'faults during live migration, round %i',
  () => {
    it('survives the target agent killed mid-stream', async () => {
      const from = (await vmOf(cli, NAME)).host ?? '';
      const to = otherHost(from);
      const beat = await lastHeartbeat(cli, NAME);
      const operation = await startSlowMigration(to);
      process.kill(await agentPid(to), 'SIGKILL');
      await expectSettled(await ended(operation.id), from, to, beat.n);
    });

    it('survives the source agent killed mid-stream', async () => {
      const from = (await vmOf(cli, NAME)).host ?? '';
      const to = otherHost(from);
      const beat = await lastHeartbeat(cli, NAME);
      const operation = await startSlowMigration(to);
      process.kill(await agentPid(from), 'SIGKILL');
      await expectSettled(await ended(operation.id), from, to, beat.n);
    });

    it('ends a migration whose link was cut, and the guest stays where it ran', async () => {
      const from = (await vmOf(cli, NAME)).host ?? '';
      const to = otherHost(from);
      const beat = await lastHeartbeat(cli, NAME);
      const veth = planTestbed(SUBNET, 2, PREFIX).hosts.find((h) => h.name === to)?.hostVeth ?? '';
      const operation = await startSlowMigration(to);
      await run('ip', ['link', 'set', veth, 'down']);
      let result: Operation;
      try {
        // The stall detector gives up on a stream that has not moved for its window.
        result = await ended(operation.id);
      } finally {
        await run('ip', ['link', 'set', veth, 'up']);
      }
      expect(result.status).toBe('failed');
      expect(result.error?.message).toMatch(/no progress|stopped|stalled/i);
      // The target's waiting QEMU is removed once its host is reachable again.
      expect(await expectOneRunningGuest(beat.n)).toBe(from);
    });

    it('survives the server killed mid-stream and started again', async () => {
      const from = (await vmOf(cli, NAME)).host ?? '';
      const to = otherHost(from);
      const beat = await lastHeartbeat(cli, NAME);
      const operation = await startSlowMigration(to);
      await testbed.crashServer();
      await cli.ok(['login', '--password-stdin'], 'migration-faults\n');
      await expectSettled(await ended(operation.id), from, to, beat.n);
    });
  },
);
