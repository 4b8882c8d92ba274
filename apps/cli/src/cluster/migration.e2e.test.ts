import type { Operation } from '@novacron/api';
import { waitFor, type CommandRunner } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  heartbeatAfter as heartbeatAfterOf,
  lastHeartbeat as lastHeartbeatOf,
  qemuOf,
  startClusterTestbed,
  vmOf,
  type ClusterTestbed,
} from './testing.js';

// Live migration on `novacron up --hosts 2`: two agents in two network namespaces, disks on the
// shared pool, QEMU streaming straight from one namespace to the other over the bridge.
const PREFIX = 'ncm';
const SUBNET = '10.199.20.0/24';
const MiB = 1024 * 1024;

let testbed: ClusterTestbed;
let cli: CommandRunner;

const vm = (name: string) => vmOf(cli, name);
const lastHeartbeat = (name: string) => lastHeartbeatOf(cli, name);
const heartbeatAfter = (name: string, previous: number) => heartbeatAfterOf(cli, name, previous);

async function migrate(name: string, args: string[]): Promise<Operation> {
  const answer = await cli.run(['vm', 'migrate', name, ...args, '--wait', '-o', 'json']);
  expect(answer.code, `${answer.stderr}\n${answer.stdout}`).toBe(0);
  return JSON.parse(answer.stdout) as Operation;
}

/** Migrates and checks what a user sees: the other host, the same guest, its heartbeat going on. */
async function expectMoved(name: string, to: string, args: string[]) {
  const before = await vm(name);
  const beat = await lastHeartbeat(name);
  const operation = await migrate(name, ['--to', to, ...args]);
  const after = await vm(name);
  expect(after).toMatchObject({ state: 'running', host: to });
  const qemu = await qemuOf(before.id);
  expect(qemu.namespace).toBe(`${PREFIX}-${to}`);
  // The guest did not restart: the target's console carries on from the source's count.
  const next = await heartbeatAfter(name, beat.n);
  expect(next.uptime).toBeGreaterThan(beat.uptime);
  const output = await cli.ok(['vm', 'console', name, '--output']);
  expect(output).not.toContain('NOVACRON-GUEST-READY');
  expect(output).not.toMatch(/^HEARTBEAT 1 /m);
  return operation.result as Record<string, number | string | null | object>;
}

beforeAll(async () => {
  testbed = await startClusterTestbed({
    hosts: 2,
    prefix: PREFIX,
    subnet: SUBNET,
    password: 'migration-e2e',
  });
  cli = testbed.cli;
  await Promise.all([
    cli.ok(['vm', 'create', 'idle', '--image', 'tiny', '--host', 'host1', '--wait']),
    cli.ok([
      'vm',
      'create',
      'busy',
      '--image',
      'tiny',
      '--host',
      'host1',
      '--kernel-args',
      'workload=dirty dirty_mib_s=60 wss_mib=96',
      '--wait',
    ]),
  ]);
  // Booted: both guests count their heartbeats.
  await Promise.all([heartbeatAfter('idle', 0), heartbeatAfter('busy', 0)]);
}, 300_000);

afterAll(async () => {
  await testbed?.close();
});

describe('live migration between two hosts', () => {
  it('moves an idle guest with pre-copy over TLS: same guest, other namespace', async () => {
    expect((await vm('idle')).pool).toBe('shared');
    const result = await expectMoved('idle', 'host2', ['--strategy', 'precopy']);
    expect(result).toMatchObject({ from: 'host1', to: 'host2', strategy: 'precopy', tls: true });
    expect(result.totalTimeMs).toBeGreaterThan(0);
    expect(result.bytesTransferred).toBeGreaterThan(0);
    expect(result.planningTimeMs).toBeGreaterThan(0);
    expect(typeof result.downtimeMs).toBe('number');
    expect(typeof (result.predicted as { totalTimeMs: unknown }).totalTimeMs).toBe('number');
  });

  it('moves it back with post-copy', async () => {
    const result = await expectMoved('idle', 'host1', ['--strategy', 'postcopy']);
    expect(result).toMatchObject({ to: 'host1', strategy: 'postcopy' });
  });

  it('moves it with auto-converge and with multifd + zstd, without TLS', async () => {
    const converged = await expectMoved('idle', 'host2', ['--strategy', 'autoconverge']);
    expect(converged).toMatchObject({ strategy: 'autoconverge', tls: true });
    const multifd = await expectMoved('idle', 'host1', [
      '--strategy',
      'precopy',
      '--multifd',
      '2',
      '--compression',
      'zstd',
      '--no-tls',
    ]);
    expect(multifd).toMatchObject({ strategy: 'precopy', tls: false });
  });

  it('plans from the measured dirty rate', async () => {
    const plan = JSON.parse(
      await cli.ok(['vm', 'migrate', 'busy', '--plan', '--max-bandwidth', '32M', '-o', 'json']),
    ) as { dirtyRateBytes: number; chosen: string; predictions: { strategy: string }[] };
    expect(plan.dirtyRateBytes).toBeGreaterThan(10 * MiB);
    expect(plan.predictions.map((p) => p.strategy).sort()).toEqual([
      'autoconverge',
      'postcopy',
      'precopy',
    ]);
    expect(plan.chosen).not.toBe('precopy');
  });

  it('completes with auto when the cap is below the dirty rate', async () => {
    const result = await expectMoved('busy', 'host2', ['--max-bandwidth', '32M']);
    expect(result.strategy === 'precopy' && result.escalated === null).toBe(false);
  });

  it('rolls back a cancelled migration: the guest goes on running on its host', async () => {
    const before = await vm('busy');
    const accepted = JSON.parse(
      await cli.ok([
        'vm',
        'migrate',
        'busy',
        '--to',
        'host1',
        '--strategy',
        'precopy',
        '--max-bandwidth',
        '8M',
        '-o',
        'json',
      ]),
    ) as Operation;
    await waitFor(
      'the stream to start',
      async () => {
        const op = JSON.parse(
          await cli.ok(['operation', 'get', accepted.id, '-o', 'json']),
        ) as Operation;
        return op.phase === 'transferring' ? true : undefined;
      },
      30_000,
      200,
    );
    const beat = await lastHeartbeat('busy');
    await cli.ok(['operation', 'cancel', accepted.id]);
    // Exits non-zero (the operation did not succeed) after printing it.
    const waited = await cli.run([
      'operation',
      'wait',
      accepted.id,
      '--timeout',
      '60',
      '-o',
      'json',
    ]);
    const ended = JSON.parse(waited.stdout) as Operation;
    expect(ended.status).toBe('cancelled');
    expect(await vm('busy')).toMatchObject({ state: 'running', host: before.host });
    expect((await qemuOf(before.id)).namespace).toBe(`${PREFIX}-${before.host ?? ''}`);
    await heartbeatAfter('busy', beat.n);
  });
});
