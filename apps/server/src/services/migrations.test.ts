import type { Vm } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { openSqliteTestStore, systemClock, type TestStore } from '@novacron/store';
import { createLogger } from '@novacron/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent } from '../testing.js';
import { HostService } from './hosts.js';
import { MigrationService } from './migrations.js';
import { OperationRunner } from './operations.js';
import { VmService } from './vms.js';

// The migrate operation over fake agents of two hosts: what it asks each host, in which order,
// and what the store says afterwards. Real QEMU migrations are in the e2e and agent tests.

const logger = createLogger({ level: 'silent' });
let testStore: TestStore;
let agents: Record<string, FakeAgent>;
let operations: OperationRunner;
let migrations: MigrationService;

async function runningVm(name: string, pool: 'local' | 'shared' = 'shared'): Promise<Vm> {
  const { store } = testStore;
  const image = await store.images.get('default', 'tiny');
  const host = await store.hosts.get('h1');
  const vm = await store.vms.create({
    project: 'default',
    name,
    imageId: image?.id ?? '',
    hostId: host?.id ?? null,
    cpus: 1,
    memoryMiB: 256,
    diskGiB: 1,
    state: 'running',
    desiredState: 'running',
    pool,
  });
  await agents.h1!.ensureVm({
    id: vm.id,
    name,
    cpus: 1,
    memoryMiB: 256,
    diskGiB: 1,
    image: { id: 'i', name: 'tiny', kind: 'kernel', sha256: 'x', defaultKernelArgs: '' },
    kernelArgs: '',
    machineType: 'pc-q35-7.2',
    desiredState: 'running',
    pool,
  });
  agents.h1!.calls.length = 0;
  return vm;
}

beforeEach(async () => {
  testStore = await openSqliteTestStore();
  const { store } = testStore;
  agents = { h1: new FakeAgent('h1'), h2: new FakeAgent('h2') };
  for (const name of ['h1', 'h2']) {
    await store.hosts.upsert({
      name,
      agentUrl: `https://${name}:8094`,
      cpus: 2,
      memoryMiB: 4096,
      accelerator: 'tcg',
      acceleratorReason: 'test',
      qemuVersion: '7.2.0',
    });
    await store.hosts.recordHeartbeat((await store.hosts.get(name))!.id, new Date());
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
  const vms = new VmService(store, hosts, operations);
  migrations = new MigrationService(store, vms, hosts, operations, logger, {
    maxBandwidthBytes: 128 * 1024 * 1024,
    maxDowntimeMs: 300,
    tls: true,
  });
});

afterEach(async () => {
  await operations.close();
  await testStore.cleanup();
});

function codeOf(error: unknown): string | undefined {
  return error instanceof DomainError ? error.code : undefined;
}

describe('the migrate operation', () => {
  it('prepares the target, streams from the source, moves the record, then ends the source', async () => {
    const vm = await runningVm('web');
    const started = await migrations.migrate('web', {});
    expect((await testStore.store.vms.get(undefined, 'web'))?.state).toBe('migrating');
    const done = await operations.wait(started.id, 5000);

    expect(done).toMatchObject({ status: 'succeeded', kind: 'vm.migrate' });
    expect(done?.result).toMatchObject({
      from: 'h1',
      to: 'h2',
      strategy: 'precopy',
      totalTimeMs: 700,
      downtimeMs: 3,
      bytesTransferred: 64 * 1024 * 1024,
      tls: true,
    });
    expect(agents.h1!.calls).toEqual([
      'dirty-rate web',
      `outgoing web tcp:127.0.0.1:49152`,
      'complete web',
    ]);
    expect(agents.h2!.calls).toEqual(['incoming web']);
    expect(await testStore.store.vms.get(undefined, vm.id)).toMatchObject({
      host: 'h2',
      state: 'running',
    });
  });

  it('gives the target the same cloud-init seed data, so it writes the same seed', async () => {
    const vm = await runningVm('seeded');
    const seed = {
      instanceId: `iid-${vm.id}`,
      hostname: 'seeded',
      sshKeys: [],
      userData: '#cloud-config\n',
    };
    await testStore.store.cloudInit.put(vm.id, seed);
    const started = await migrations.migrate('seeded', {});
    expect(await operations.wait(started.id, 5000)).toMatchObject({ status: 'succeeded' });
    expect(agents.h2!.specs.get(vm.id)?.cloudInit).toEqual(seed);
  });

  it('mirrors a local disk before the stream, and refuses post-copy for it', async () => {
    const vm = await runningVm('local', 'local');
    const postcopy = await migrations
      .migrate('local', { strategy: 'postcopy' })
      .catch((e: unknown) => e);
    expect(codeOf(postcopy)).toBe('VALIDATION_FAILED');
    expect(agents.h1!.calls).toEqual([]);

    const plan = await migrations.plan('local', {});
    expect(plan.disk).toMatchObject({ allocatedBytes: expect.any(Number) as number });
    agents.h1!.calls.length = 0;
    const started = await migrations.migrate('local', {});
    const done = await operations.wait(started.id, 5000);
    expect(done).toMatchObject({ status: 'succeeded', kind: 'vm.migrate' });
    expect(done?.result).toMatchObject({ strategy: 'precopy' });
    expect(agents.h1!.calls).toEqual([
      'dirty-rate local',
      'mirror local',
      `outgoing local tcp:127.0.0.1:49152`,
      'complete local',
    ]);
    expect(agents.h2!.calls).toEqual(['incoming local']);
    expect(await testStore.store.vms.get(undefined, vm.id)).toMatchObject({
      host: 'h2',
      state: 'running',
    });
  });

  it('moves a stopped VM cold: the disk is copied, the target takes it, then the source lets go', async () => {
    const vm = await runningVm('cold', 'local');
    await testStore.store.vms.update(vm.id, { state: 'stopped' });
    const started = await migrations.migrate('cold', {});
    const done = await operations.wait(started.id, 5000);
    expect(done).toMatchObject({ status: 'succeeded', kind: 'vm.migrate' });
    expect(done?.result).toMatchObject({ cold: true, from: 'h1', to: 'h2' });
    expect(agents.h2!.calls).toEqual([
      'disk-incoming cold',
      'disk-done cold',
      'ensure cold stopped 1/256',
    ]);
    expect(agents.h1!.calls).toEqual(['disk-outgoing cold', 'complete cold']);
    expect(await testStore.store.vms.get(undefined, vm.id)).toMatchObject({
      host: 'h2',
      state: 'stopped',
    });
  });

  it('rolls back a failed mirror: the target forgets its disk, the source keeps the guest', async () => {
    const vm = await runningVm('local', 'local');
    agents.h1!.migrationMirror = (id: string) => {
      const mirror = {
        status: 'concluded',
        ready: false,
        doneBytes: 1024,
        totalBytes: 4096,
        error: 'No space left on device',
      };
      agents.h1!.migrations.set(id, { status: 'none', mirror });
      return Promise.resolve({ status: 'none' as const, mirror });
    };
    const started = await migrations.migrate('local', {});
    const done = await operations.wait(started.id, 5000);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'MIGRATION_FAILED' } });
    expect(done?.error?.message).toMatch(/No space left on device/);
    expect(agents.h2!.calls).toEqual(['incoming local', 'abort local']);
    expect(agents.h1!.calls).toContain('abort local');
    expect(agents.h1!.calls).not.toContain('outgoing local tcp:127.0.0.1:49152');
    expect(await testStore.store.vms.get(undefined, vm.id)).toMatchObject({
      host: 'h1',
      state: 'running',
    });
  });

  it('refuses post-copy with multifd, and a target that is its own host, before anything moves', async () => {
    await runningVm('web');
    const illegal = await migrations
      .migrate('web', { strategy: 'postcopy', multifdChannels: 2 })
      .catch((e: unknown) => e);
    expect(codeOf(illegal)).toBe('VALIDATION_FAILED');
    const same = await migrations.migrate('web', { to: 'h1' }).catch((e: unknown) => e);
    expect(codeOf(same)).toBe('MIGRATION_NOT_POSSIBLE');
    expect((await testStore.store.vms.get(undefined, 'web'))?.state).toBe('running');
  });

  it('rolls back when the source cannot start the stream: the guest stays, the target forgets', async () => {
    const vm = await runningVm('web');
    agents.h1!.migrationOutgoing = () =>
      Promise.reject(new DomainError('MIGRATION_FAILED', 'TLS handshake failed'));
    const started = await migrations.migrate('web', {});
    const done = await operations.wait(started.id, 5000);

    expect(done).toMatchObject({ status: 'failed', error: { code: 'MIGRATION_FAILED' } });
    expect(done?.error?.message).toMatch(/TLS handshake failed; .*waiting QEMU on h2 removed/);
    expect(agents.h2!.calls).toEqual(['incoming web', 'abort web']);
    expect(await testStore.store.vms.get(undefined, vm.id)).toMatchObject({
      host: 'h1',
      state: 'running',
    });
  });

  it('plans without moving anything', async () => {
    await runningVm('web');
    agents.h1!.dirtyRateBytes = 60 * 1024 * 1024;
    const plan = await migrations.plan('web', { maxBandwidthBytes: 32 * 1024 * 1024 });
    expect(plan).toMatchObject({ from: 'h1', to: 'h2', dirtyRateBytes: 60 * 1024 * 1024 });
    expect(plan.chosen).not.toBe('precopy');
    expect(agents.h2!.calls).toEqual([]);
  });
});
