import type { Operation, Vm } from '@novacron/api';
import { waitFor } from '@novacron/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeAgent, startTestServer, type TestServer } from '../testing.js';

// An operation survives a server restart: the next server resumes it from its recorded phase
// or rolls it back. The "crash" drops the first server's services while its agent call hangs.

let server: TestServer;

afterEach(async () => {
  await server.close();
});

async function post(url: string, payload: Record<string, unknown>): Promise<Operation> {
  const response = await server.app.inject({ method: 'POST', url, headers: server.auth, payload });
  expect(response.statusCode).toBe(202);
  return response.json<Operation>();
}

async function vm(name: string): Promise<Vm | undefined> {
  return server.store.vms.get(undefined, name);
}

describe('operations interrupted by a server stop', () => {
  it('resumes a create that had asked the agent: PUT ensure again', async () => {
    server = await startTestServer();
    const held = server.agent.hold();
    const created = await post('/api/v1/vms', { name: 'a', image: 'tiny' });
    await held;
    expect(await server.store.operations.get(created.id)).toMatchObject({
      status: 'running',
      phase: 'provisioning',
    });

    const fresh = new FakeAgent();
    server = await server.restart(fresh);
    expect(await server.operations.recover(server.vms.recoveryPlans())).toEqual({
      resumed: 1,
      rolledBack: 0,
    });
    expect(await server.operations.wait(created.id, 5000)).toMatchObject({
      status: 'succeeded',
      result: { state: 'running' },
    });
    expect(fresh.calls).toEqual(['ensure a running 1/256']);
    expect(await vm('a')).toMatchObject({ state: 'running', desiredState: 'running' });
  });

  it('rolls back a create that had not asked the agent: the VM row goes, INTERRUPTED', async () => {
    server = await startTestServer();
    // What a server leaves when it stops right after recording the VM and its operation.
    const image = await server.store.images.get('default', 'tiny');
    const host = await server.store.hosts.get('h1');
    const row = await server.store.vms.create({
      project: 'default',
      name: 'a',
      imageId: image?.id ?? '',
      hostId: host?.id ?? null,
      cpus: 1,
      memoryMiB: 256,
      diskGiB: 1,
      desiredState: 'running',
    });
    const operation = await server.store.operations.create({
      kind: 'vm.create',
      status: 'running',
      phase: 'started',
      target: { type: 'vm', id: row.id, name: row.name },
      project: 'default',
    });

    server = await server.restart();
    expect(await server.operations.recover(server.vms.recoveryPlans())).toEqual({
      resumed: 0,
      rolledBack: 1,
    });
    const ended = await server.operations.wait(operation.id, 5000);
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'INTERRUPTED' } });
    expect(ended?.error?.message).toMatch(/phase 'started'; rolled back: VM a removed/);
    expect(await vm('a')).toBeUndefined();
    expect(server.agent.calls).toEqual([]);
  });

  it('resumes a stop, and rolls back a reboot instead of rebooting twice', async () => {
    server = await startTestServer();
    const created = await post('/api/v1/vms', { name: 'a', image: 'tiny' });
    await server.operations.wait(created.id, 5000);
    await post('/api/v1/vms', { name: 'b', image: 'tiny' }).then((op) =>
      server.operations.wait(op.id, 5000),
    );

    // Both calls hang at the agent: the stop first, then the reboot behind it.
    const held = server.agent.hold();
    const stop = await post('/api/v1/vms/a/actions', { action: 'stop' });
    await held;
    const reboot = await post('/api/v1/vms/b/actions', { action: 'reboot' });
    await waitFor(
      'the reboot to reach the agent',
      () => (server.agent.calls.length === 4 ? true : undefined),
      5000,
      20,
    );
    expect((await server.store.operations.get(stop.id))?.phase).toBe('stop');
    expect((await server.store.operations.get(reboot.id))?.phase).toBe('reboot');

    // The new server's agent knows both VMs running, as the real host would after a restart.
    const fresh = new FakeAgent();
    for (const name of ['a', 'b']) {
      const id = (await vm(name))?.id ?? '';
      fresh.vms.set(id, { id, state: 'running', pid: 42, reason: null });
    }
    server = await server.restart(fresh);
    expect(await server.operations.recover(server.vms.recoveryPlans())).toEqual({
      resumed: 1,
      rolledBack: 1,
    });
    expect(await server.operations.wait(stop.id, 5000)).toMatchObject({ status: 'succeeded' });
    expect(await vm('a')).toMatchObject({ state: 'stopped', desiredState: 'stopped' });
    expect(await server.operations.wait(reboot.id, 5000)).toMatchObject({
      status: 'failed',
      error: { code: 'INTERRUPTED' },
    });
    expect(await vm('b')).toMatchObject({ state: 'running', desiredState: 'running' });
    expect(fresh.calls).toEqual([`stop ${(await vm('a'))?.id ?? ''}`]);
  });

  it('waits for a host that is not back yet', async () => {
    server = await startTestServer();
    const held = server.agent.hold();
    const created = await post('/api/v1/vms', { name: 'a', image: 'tiny' });
    await held;

    // The host comes back a second after the server.
    const late = new FakeAgent();
    late.unreachable = true;
    server = await server.restart(late);
    await server.operations.recover(server.vms.recoveryPlans());
    const back = setTimeout(() => (late.unreachable = false), 1000);
    expect(await server.operations.wait(created.id, 10_000)).toMatchObject({
      status: 'succeeded',
    });
    clearTimeout(back);
    expect(late.calls).toEqual(['ensure a running 1/256']);
  });

  it('cancels a resumed operation while it waits for its host', async () => {
    server = await startTestServer();
    const held = server.agent.hold();
    const created = await post('/api/v1/vms', { name: 'a', image: 'tiny' });
    await held;

    const gone = new FakeAgent();
    gone.unreachable = true;
    server = await server.restart(gone);
    await server.operations.recover(server.vms.recoveryPlans());
    expect(server.operations.isRunning(created.id)).toBe(true);
    await server.operations.cancel(created.id);
    expect(await server.operations.wait(created.id, 10_000)).toMatchObject({
      status: 'cancelled',
      error: { code: 'OPERATION_CANCELLED' },
    });
    expect(gone.calls).toEqual([]);
  });

  it('ends an operation whose VM is gone, and cancels one nobody runs', async () => {
    server = await startTestServer();
    const orphan = await server.store.operations.create({
      kind: 'vm.start',
      status: 'running',
      phase: 'start',
      target: { type: 'vm', id: 'gone', name: 'gone' },
      project: 'default',
    });
    const unclaimed = await server.store.operations.create({
      kind: 'vm.stop',
      status: 'running',
      phase: 'stop',
      target: { type: 'vm', id: 'gone2', name: 'gone2' },
      project: 'default',
    });
    const cancel = await server.app.inject({
      method: 'DELETE',
      url: `/api/v1/operations/${unclaimed.id}`,
      headers: server.auth,
    });
    expect(cancel.statusCode).toBe(202);
    expect(cancel.json<Operation>()).toMatchObject({
      status: 'cancelled',
      error: { code: 'OPERATION_CANCELLED' },
    });

    expect(await server.operations.recover(server.vms.recoveryPlans())).toEqual({
      resumed: 0,
      rolledBack: 1,
    });
    expect((await server.operations.wait(orphan.id, 5000))?.error?.message).toMatch(
      /rolled back: the VM no longer exists/,
    );
  });
});
