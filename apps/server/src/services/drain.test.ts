import type { Host, Vm, VmPlacement } from '@novacron/api';
import { openSqliteTestStore, systemClock, type TestStore } from '@novacron/store';
import { createLogger } from '@novacron/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent } from '../testing.js';
import { DrainService, type DrainedVm } from './drain.js';
import { HostService } from './hosts.js';
import { MigrationService } from './migrations.js';
import { OperationRunner } from './operations.js';
import { SchedulerService } from './scheduler.js';
import { VmService } from './vms.js';

// The drain operation over fake agents of three hosts: every VM moves through the migrate
// operation to a host the scheduler picks; one that fits nowhere stays, with the reason. Real
// QEMU drains are in the cluster e2e test.

const logger = createLogger({ level: 'silent' });
let testStore: TestStore;
let agents: Record<string, FakeAgent>;
let operations: OperationRunner;
let drains: DrainService;

async function hostNamed(name: string): Promise<Host> {
  return (await testStore.store.hosts.get(name))!;
}

async function runningVm(name: string, on: string, placement: VmPlacement = {}): Promise<Vm> {
  const { store } = testStore;
  const image = await store.images.get('default', 'tiny');
  const vm = await store.vms.create({
    project: 'default',
    name,
    imageId: image?.id ?? '',
    hostId: (await hostNamed(on)).id,
    cpus: 1,
    memoryMiB: 256,
    diskGiB: 1,
    state: 'running',
    desiredState: 'running',
    pool: 'shared',
    placement,
  });
  await agents[on]!.ensureVm({
    id: vm.id,
    name,
    cpus: 1,
    memoryMiB: 256,
    diskGiB: 1,
    image: { id: 'i', name: 'tiny', kind: 'kernel', sha256: 'x', defaultKernelArgs: '' },
    kernelArgs: '',
    machineType: 'pc-q35-7.2',
    desiredState: 'running',
    pool: 'shared',
  });
  return vm;
}

beforeEach(async () => {
  testStore = await openSqliteTestStore();
  const { store } = testStore;
  agents = { h1: new FakeAgent('h1'), h2: new FakeAgent('h2'), h3: new FakeAgent('h3') };
  for (const name of Object.keys(agents)) {
    await store.hosts.upsert({
      name,
      agentUrl: `https://${name}:8094`,
      cpus: 2,
      memoryMiB: 4096,
      accelerator: 'tcg',
      acceleratorReason: 'test',
      qemuVersion: '7.2.0',
    });
    await store.hosts.recordHeartbeat((await hostNamed(name)).id, new Date());
  }
  await store.images.create({
    name: 'tiny',
    project: 'default',
    kind: 'kernel',
    status: 'ready',
    builtin: true,
    sizeBytes: 1,
    defaultKernelArgs: '',
    sha256: 'x',
  });
  const hosts = new HostService(store, systemClock, logger, (_url, name) => agents[name]!);
  operations = new OperationRunner(store, systemClock, logger);
  const scheduler = new SchedulerService(store, {
    policy: 'spread',
    overcommit: { cpu: 4, memory: 1, disk: 1 },
  });
  const vms = new VmService(store, hosts, operations, { scheduler });
  const migrations = new MigrationService(store, vms, hosts, operations, logger, {
    maxBandwidthBytes: 128 * 1024 * 1024,
    maxDowntimeMs: 300,
    tls: true,
  });
  drains = new DrainService(store, migrations, scheduler, operations, logger);
});

afterEach(async () => {
  await operations.close();
  await testStore.cleanup();
});

describe('the drain operation', () => {
  it('moves every VM off the host, spread over the others, and leaves it in maintenance', async () => {
    for (const name of ['a', 'b', 'c', 'd']) await runningVm(name, 'h1');
    const started = await drains.drain('h1');
    expect(started).toMatchObject({ kind: 'host.drain', target: { type: 'host', name: 'h1' } });
    expect((await hostNamed('h1')).maintenance).toBe(true);
    const done = await operations.wait(started.id, 10_000);
    expect(done).toMatchObject({ status: 'succeeded', result: { host: 'h1', moved: 4 } });
    const page = await testStore.store.vms.list();
    // VMs made in the same millisecond list in id order: compare them by name.
    const byName = [...page.items].sort((x, y) => x.name.localeCompare(y.name));
    expect(byName.map((vm) => [vm.name, vm.state])).toEqual([
      ['a', 'running'],
      ['b', 'running'],
      ['c', 'running'],
      ['d', 'running'],
    ]);
    const hostsUsed = page.items.map((vm) => vm.host);
    expect(hostsUsed.filter((h) => h === 'h2')).toHaveLength(2);
    expect(hostsUsed.filter((h) => h === 'h3')).toHaveLength(2);
    const records = done?.metadata?.['vms'] as DrainedVm[];
    expect(records.every((r) => r.status === 'moved' && r.operation !== undefined)).toBe(true);
    expect(agents.h1!.calls.filter((c) => c.startsWith('outgoing'))).toHaveLength(4);
  });

  it('leaves a VM that fits nowhere else, with the reason, and ends partial', async () => {
    const placement: VmPlacement = { group: 'db', antiAffinity: 'hard' };
    await runningVm('db-1', 'h1', placement);
    await runningVm('db-2', 'h2', placement);
    await runningVm('db-3', 'h3', placement);
    await runningVm('web', 'h1');
    const started = await drains.drain('h1');
    const done = await operations.wait(started.id, 10_000);
    expect(done?.status).toBe('failed');
    expect(done?.error).toMatchObject({
      code: 'MIGRATION_FAILED',
      message: expect.stringMatching(
        /^drain of h1 ended partial: 1 of 2 VMs moved; db-1: no host fits: state removed 1, affinity removed 2/,
      ) as string,
    });
    expect(await testStore.store.vms.get(undefined, 'db-1')).toMatchObject({
      host: 'h1',
      state: 'running',
    });
    expect((await testStore.store.vms.get(undefined, 'web'))?.host).not.toBe('h1');
    expect((await hostNamed('h1')).maintenance).toBe(true);
  });

  it('resumes a drain a stopped server left unfinished, from what is still on the host', async () => {
    await runningVm('a', 'h1');
    await runningVm('b', 'h1');
    const h1 = await hostNamed('h1');
    // As the previous server left it: host in maintenance, the drain recorded, nothing moved.
    await testStore.store.hosts.patch(h1.id, { maintenance: true });
    const left = await testStore.store.operations.create({
      kind: 'host.drain',
      status: 'running',
      phase: 'moving VMs (0 of 2 done)',
      target: { type: 'host', id: h1.id, name: h1.name },
      project: null,
    });
    expect(await operations.recover(drains.recoveryPlans())).toEqual({ resumed: 1, rolledBack: 0 });
    const done = await operations.wait(left.id, 10_000);
    expect(done).toMatchObject({ status: 'succeeded', result: { host: 'h1', moved: 2 } });
    const page = await testStore.store.vms.list();
    expect(page.items.every((vm) => vm.host !== 'h1' && vm.state === 'running')).toBe(true);
  });
});
