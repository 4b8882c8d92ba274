import type { ClusterHeartbeat, Image } from '@novacron/api';
import { openSqliteTestStore, type Store, type TestStore } from '@novacron/store';
import { createLogger } from '@novacron/telemetry';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AgentPort } from '../agents/agent-client.js';
import { HostService } from './hosts.js';

// Heartbeats and the timeout sweep over a real (SQLite) store, with a clock the test moves.
let testStore: TestStore;
let store: Store;
let image: Image;
let time: number;
let hosts: HostService;
const clock = { now: () => new Date(time) };

function beat(vms: ClusterHeartbeat['vms'] = [], cpus = 2): ClusterHeartbeat {
  return {
    agentUrl: 'https://10.0.0.2:8094',
    host: {
      cpus,
      memoryMiB: 2048,
      accelerator: 'tcg',
      acceleratorReason: 'forced',
      qemuVersion: '7.2.0',
    },
    vms,
  };
}

async function vmOn(hostId: string, name: string, state: 'running' | 'starting' = 'running') {
  return store.vms.create({
    project: 'default',
    name,
    imageId: image.id,
    hostId,
    cpus: 1,
    memoryMiB: 128,
    diskGiB: 1,
    state,
    desiredState: 'running',
  });
}

beforeEach(async () => {
  time = Date.parse('2030-01-01T00:00:00Z');
  testStore = await openSqliteTestStore({ clock });
  store = testStore.store;
  image = await store.images.create({
    name: 'tiny',
    project: 'default',
    kind: 'kernel',
    status: 'ready',
    builtin: true,
    sizeBytes: 1,
    defaultKernelArgs: '',
    sha256: 'x',
  });
  hosts = new HostService(store, clock, createLogger({ level: 'silent' }), undefined, {
    hostTimeoutSeconds: 10,
  });
});

afterEach(async () => {
  await hosts.stopMonitor();
  await testStore.cleanup();
});

describe('heartbeats', () => {
  it('register the host under the name given (its certificate), with the facts reported', async () => {
    const host = await hosts.heartbeat('node1', beat());
    expect(host).toMatchObject({
      name: 'node1',
      state: 'ready',
      agentUrl: 'https://10.0.0.2:8094',
      cpus: 2,
      lastHeartbeatAt: '2030-01-01T00:00:00.000Z',
    });
  });

  it('record liveness without an event, and announce only a change of facts', async () => {
    await hosts.heartbeat('node1', beat());
    const after = (await store.events.list({ since: 0, limit: 1000 })).length;
    time += 2000;
    const again = await hosts.heartbeat('node1', beat());
    expect(again.lastHeartbeatAt).toBe('2030-01-01T00:00:02.000Z');
    expect(await store.events.list({ since: 0, limit: 1000 })).toHaveLength(after);
    await hosts.heartbeat('node1', beat([], 4));
    expect((await store.hosts.get('node1'))?.cpus).toBe(4);
    expect((await store.events.list({ since: 0, limit: 1000 })).length).toBeGreaterThan(after);
  });

  it('take each VM state from the report; a VM the host does not report is unknown', async () => {
    const host = await hosts.heartbeat('node1', beat());
    const a = await vmOn(host.id, 'a');
    const b = await vmOn(host.id, 'b');
    const busy = await vmOn(host.id, 'busy', 'starting');
    await hosts.heartbeat(
      'node1',
      beat([
        { id: a.id, state: 'paused', pid: 7, reason: null },
        { id: busy.id, state: 'stopped', pid: null, reason: null },
      ]),
    );
    expect((await store.vms.get(undefined, a.id))?.state).toBe('paused');
    expect(await store.vms.get(undefined, b.id)).toMatchObject({
      state: 'unknown',
      stateReason: 'host node1 does not know this VM',
    });
    // An operation in flight owns its VM's state.
    expect((await store.vms.get(undefined, busy.id))?.state).toBe('starting');
  });
});

describe('what an ended migration left on a host', () => {
  it('is removed: a waiting target aborted, a handed-off source retired; a VM still moving is left alone', async () => {
    const calls: string[] = [];
    let retiredId = '';
    const agent = {
      migrationComplete: (id: string) => {
        calls.push(`complete ${id}`);
        // The agent refuses to retire a QEMU that did not hand the guest over.
        return id === retiredId ? Promise.resolve() : Promise.reject(new Error('not handed off'));
      },
      migrationAbort: (id: string) => {
        calls.push(`abort ${id}`);
        return Promise.resolve({ status: 'cancelled' as const });
      },
    } as unknown as AgentPort;
    hosts = new HostService(store, clock, createLogger({ level: 'silent' }), () => agent);
    const node1 = await hosts.heartbeat('node1', beat());
    const node2 = await hosts.heartbeat('node2', beat());
    const waiting = await vmOn(node1.id, 'waiting');
    const retired = await vmOn(node1.id, 'retired');
    const moving = await vmOn(node1.id, 'moving');
    await store.vms.update(moving.id, { state: 'migrating' });
    retiredId = retired.id;
    const migrating = (id: string) => ({ id, state: 'migrating' as const, pid: 1, reason: null });

    await hosts.heartbeat('node2', beat([waiting, retired, moving].map((vm) => migrating(vm.id))));
    await vi.waitFor(() => expect(calls).toHaveLength(3));
    expect(calls.sort()).toEqual(
      [`abort ${waiting.id}`, `complete ${retired.id}`, `complete ${waiting.id}`].sort(),
    );
    // The VMs' own records are untouched: they stay on node1.
    expect((await store.vms.get(undefined, waiting.id))?.host).toBe('node1');
    expect(node2.name).toBe('node2');
  });
});

describe('the timeout sweep', () => {
  it('marks a silent host unreachable and its VMs unknown; the next heartbeat restores both', async () => {
    const host = await hosts.heartbeat('node1', beat());
    const vm = await vmOn(host.id, 'web');
    const running = [{ id: vm.id, state: 'running' as const, pid: 9, reason: null }];
    await hosts.heartbeat('node1', beat(running));

    time += 10_000;
    await hosts.sweep();
    expect((await store.hosts.get('node1'))?.state).toBe('ready');

    time += 1;
    await hosts.sweep();
    expect((await store.hosts.get('node1'))?.state).toBe('unreachable');
    expect(await store.vms.get(undefined, vm.id)).toMatchObject({
      state: 'unknown',
      stateReason: 'host node1 is unreachable: no heartbeat since 2030-01-01T00:00:00.000Z',
    });
    // Sweeping again changes nothing more: no event per pass.
    const events = (await store.events.list({ since: 0, limit: 1000 })).length;
    time += 5000;
    await hosts.sweep();
    expect(await store.events.list({ since: 0, limit: 1000 })).toHaveLength(events);

    await hosts.heartbeat('node1', beat(running));
    expect((await store.hosts.get('node1'))?.state).toBe('ready');
    expect(await store.vms.get(undefined, vm.id)).toMatchObject({
      state: 'running',
      stateReason: null,
    });
  });

  it('counts an old heartbeat from the server start, so a restart does not mark every host', async () => {
    await hosts.heartbeat('node1', beat());
    time += 3_600_000;
    const restarted = new HostService(store, clock, createLogger({ level: 'silent' }), undefined, {
      hostTimeoutSeconds: 10,
    });
    await restarted.sweep();
    expect((await store.hosts.get('node1'))?.state).toBe('ready');
    time += 10_001;
    await restarted.sweep();
    expect((await store.hosts.get('node1'))?.state).toBe('unreachable');
  });

  it('leaves a disabled host disabled, and still marks its VMs unknown', async () => {
    const host = await hosts.heartbeat('node1', beat());
    const vm = await vmOn(host.id, 'web');
    await store.hosts.patch(host.id, { enabled: false });
    time += 10_001;
    await hosts.sweep();
    expect((await store.hosts.get('node1'))?.state).toBe('disabled');
    expect((await store.vms.get(undefined, vm.id))?.state).toBe('unknown');
  });
});
