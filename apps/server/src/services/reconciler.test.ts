import type { Operation, RestartPolicy, Vm, VmState } from '@novacron/api';
import { createLogger } from '@novacron/telemetry';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from '../testing.js';
import { Reconciler, type RestartPort } from './reconciler.js';

const clock = { now: () => new Date() };
const logger = createLogger({ level: 'silent' });

function vm(policy: RestartPolicy, desiredState: Vm['desiredState'] = 'running'): Vm {
  return {
    id: 'vm1',
    name: 'web',
    project: 'default',
    state: 'running',
    desiredState,
    host: 'h1',
    image: 'tiny',
    imageId: 'i1',
    description: '',
    cpus: 1,
    memoryMiB: 256,
    diskGiB: 1,
    kernelArgs: '',
    labels: {},
    stateReason: null,
    restartPolicy: policy,
    pool: 'local',
    placement: {},
    restarts: 0,
    lastRestartAt: null,
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

/** Records when each restart was asked for, in ms since the test began. */
class Restarts implements RestartPort {
  readonly at: number[] = [];
  fail = false;
  constructor(readonly start: number) {}
  restart(): Promise<Operation | undefined> {
    this.at.push(Date.now() - this.start);
    if (this.fail) return Promise.reject(new Error('agent said no'));
    return Promise.resolve({ id: `op${this.at.length}` } as Operation);
  }
}

describe('Reconciler with fake time', () => {
  let restarts: Restarts;
  let reconciler: Reconciler;

  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00.000Z') });
    restarts = new Restarts(Date.now());
    reconciler = new Reconciler(restarts, clock, logger);
  });

  afterEach(async () => {
    await reconciler.close();
    vi.useRealTimers();
  });

  /** Observes `state` every 2 s (a heartbeat), for `seconds`. */
  async function observe(policy: RestartPolicy, state: VmState, seconds: number) {
    for (let t = 0; t < seconds; t += 2) {
      reconciler.observe(vm(policy), { state, reason: state === 'error' ? 'killed' : null });
      await vi.advanceTimersByTimeAsync(2000);
    }
  }

  it('restarts a VM that keeps dying with a doubling backoff, capped at 60 s', async () => {
    await observe('always', 'error', 300);
    // The first one backoff after the observation that finds the VM down; each next one a
    // doubled backoff after the observation that follows the last restart: 2 s, 4 s, ... 60 s.
    expect(restarts.at).toEqual([1000, 4000, 8000, 16000, 32000, 64000, 124000, 184000, 244000]);
  });

  it('follows the policy: never, on-failure only after an abnormal exit, always', async () => {
    await observe('never', 'error', 10);
    await observe('on-failure', 'stopped', 10);
    expect(restarts.at).toEqual([]);
    await observe('on-failure', 'error', 2);
    expect(restarts.at).toHaveLength(1);
  });

  it('leaves a VM alone that a user stopped', async () => {
    reconciler.observe(vm('always', 'stopped'), { state: 'stopped', reason: null });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(restarts.at).toEqual([]);
  });

  it('starts the backoff again once the VM stayed up', async () => {
    await observe('always', 'error', 10);
    expect(restarts.at.length).toBeGreaterThanOrEqual(3);
    await observe('always', 'running', 11 * 60);
    const before = [...restarts.at];
    const downAt = Date.now() - restarts.start;
    reconciler.observe(vm('always'), { state: 'error', reason: 'killed' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(restarts.at).toEqual([...before, downAt + 1000]);
  });

  it('backs off after a restart that could not be asked for', async () => {
    restarts.fail = true;
    await observe('always', 'error', 20);
    expect(restarts.at.slice(0, 4)).toEqual([1000, 4000, 8000, 16000]);
  });

  it('asks nothing once closed', async () => {
    reconciler.observe(vm('always'), { state: 'error', reason: 'killed' });
    await reconciler.close();
    await vi.advanceTimersByTimeAsync(10_000);
    reconciler.observe(vm('always'), { state: 'error', reason: 'killed' });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(restarts.at).toEqual([]);
  });
});

describe('Reconciler driving the VM service', () => {
  let server: TestServer;

  afterEach(async () => {
    await server.close();
  });

  it('restarts a crashed VM as a vm.start operation and counts the restart', async () => {
    server = await startTestServer();
    const reconciler = new Reconciler(server.vms, clock, logger, {
      backoff: { baseMs: 10, maxMs: 100 },
    });
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/v1/vms',
      headers: server.auth,
      payload: { name: 'web', image: 'tiny', restartPolicy: 'always' },
    });
    await server.operations.wait(created.json<Operation>().id, 5000);
    // The host reports the QEMU killed.
    const stored = await server.store.vms.get(undefined, 'web');
    if (stored === undefined) throw new Error('VM not created');
    await server.store.vms.update(stored.id, { state: 'error', stateReason: 'killed by SIGKILL' });
    reconciler.observe(stored, { state: 'error', reason: 'killed by SIGKILL' });

    const started = await vi.waitFor(
      async () => {
        const ops = await server.store.operations.list({ kind: 'vm.start' });
        expect(ops.items).toHaveLength(1);
        return ops.items[0];
      },
      { timeout: 5000, interval: 20 },
    );
    expect(await server.operations.wait(started?.id ?? '', 5000)).toMatchObject({
      status: 'succeeded',
    });
    expect(await server.store.vms.get(undefined, 'web')).toMatchObject({
      state: 'running',
      restarts: 1,
      lastRestartAt: expect.any(String) as string,
    });
    expect(server.agent.calls).toEqual(['ensure web running 1/256', 'ensure web running 1/256']);
    await reconciler.close();
  });
});
