import type { Host, Operation, OperationPage, Vm, VmPage } from '@novacron/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './testing.js';

// Hosts, VM patch and restart policy, operations list and cancel, through the API (inject).

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  await server.close();
});

async function call(method: string, url: string, payload?: unknown) {
  return server.app.inject({
    method: method as 'GET',
    url,
    headers: server.auth,
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
}

async function waitFor(operation: Operation): Promise<Operation> {
  const response = await call('GET', `/api/v1/operations/${operation.id}/wait?timeout=10`);
  return response.json<Operation>();
}

async function createVm(payload: Record<string, unknown>): Promise<Vm> {
  const created = await call('POST', '/api/v1/vms', { image: 'tiny', ...payload });
  expect(created.statusCode).toBe(202);
  expect(await waitFor(created.json<Operation>())).toMatchObject({ status: 'succeeded' });
  return (await call('GET', `/api/v1/vms/${String(payload.name)}`)).json<Vm>();
}

async function act(vm: string, action: string): Promise<Operation> {
  const response = await call('POST', `/api/v1/vms/${vm}/actions`, { action });
  expect(response.statusCode).toBe(202);
  return waitFor(response.json<Operation>());
}

describe('hosts', () => {
  it('merges labels and sets the cordon and enabled flags', async () => {
    const labelled = await call('PATCH', '/api/v1/hosts/h1', { labels: { rack: 'a', ssd: 'y' } });
    expect(labelled.statusCode).toBe(200);
    expect(labelled.json<Host>()).toMatchObject({
      labels: { rack: 'a', ssd: 'y' },
      cordoned: false,
    });

    const patched = await call('PATCH', '/api/v1/hosts/h1', {
      labels: { ssd: null },
      cordoned: true,
      enabled: false,
    });
    expect(patched.json<Host>()).toMatchObject({
      labels: { rack: 'a' },
      cordoned: true,
      state: 'disabled',
    });
    expect((await call('GET', '/api/v1/hosts/h1')).json<Host>()).toEqual(patched.json<Host>());
    const enabled = await call('PATCH', '/api/v1/hosts/h1', { enabled: true, cordoned: false });
    expect(enabled.json<Host>()).toMatchObject({ state: 'ready', cordoned: false });
  });

  it('refuses an unknown host and a bad body, changing nothing', async () => {
    const before = await server.store.hosts.list();
    const missing = await call('PATCH', '/api/v1/hosts/nohost', { cordoned: true });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'HOST_NOT_FOUND' } });
    for (const body of [{ cordoned: 'yes' }, { state: 'ready' }, { labels: { a: 1 } }]) {
      const bad = await call('PATCH', '/api/v1/hosts/h1', body);
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    }
    expect(await server.store.hosts.list()).toEqual(before);
  });

  it('places no new VM on a cordoned or disabled host, and says why', async () => {
    const kept = await createVm({ name: 'kept' });
    await call('PATCH', '/api/v1/hosts/h1', { cordoned: true });
    for (const payload of [{ name: 'a' }, { name: 'a', host: 'h1' }]) {
      const refused = await call('POST', '/api/v1/vms', { image: 'tiny', ...payload });
      expect(refused.statusCode).toBe(422);
      expect(refused.json()).toMatchObject({
        error: { code: 'NO_HOST_FITS', details: { hosts: { h1: 'host is cordoned' } } },
      });
    }
    // A cordoned host keeps its VMs, and they still obey.
    expect((await act('kept', 'stop')).status).toBe('succeeded');
    expect((await act('kept', 'start')).status).toBe('succeeded');

    await call('PATCH', '/api/v1/hosts/h1', { cordoned: false, enabled: false });
    const disabled = await call('POST', '/api/v1/vms', { image: 'tiny', name: 'b' });
    expect(disabled.json()).toMatchObject({
      error: { code: 'NO_HOST_FITS', details: { hosts: { h1: 'host is disabled' } } },
    });
    expect((await server.store.vms.list()).items.map((vm) => vm.id)).toEqual([kept.id]);

    await call('PATCH', '/api/v1/hosts/h1', { enabled: true });
    expect((await createVm({ name: 'b' })).host).toBe('h1');
  });
});

describe('VM patch', () => {
  it('merges labels and sets description and restart policy at any time', async () => {
    const vm = await createVm({ name: 'web', labels: { tier: 'web', env: 'dev' } });
    expect(vm).toMatchObject({ restartPolicy: 'never', restarts: 0, description: '' });
    const response = await call('PATCH', '/api/v1/vms/web', {
      labels: { env: null, team: 'a' },
      description: 'front end',
      restartPolicy: 'on-failure',
    });
    expect(response.statusCode).toBe(200);
    expect(response.json<Vm>()).toMatchObject({
      state: 'running',
      labels: { tier: 'web', team: 'a' },
      description: 'front end',
      restartPolicy: 'on-failure',
      version: vm.version + 1,
    });
    // An empty patch changes nothing, not even the version.
    expect((await call('PATCH', '/api/v1/vms/web', {})).json<Vm>()).toEqual(response.json<Vm>());
  });

  it('takes a restart policy at create', async () => {
    expect((await createVm({ name: 'db', restartPolicy: 'always' })).restartPolicy).toBe('always');
    const bad = await call('POST', '/api/v1/vms', {
      image: 'tiny',
      name: 'x',
      restartPolicy: 'sometimes',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  });

  it('resizes only a stopped VM, and the host gets the new size at the next start', async () => {
    const vm = await createVm({ name: 'web' });
    const running = await call('PATCH', '/api/v1/vms/web', { cpus: 2, labels: { a: 'b' } });
    expect(running.statusCode).toBe(409);
    expect(running.json()).toMatchObject({ error: { code: 'VM_INVALID_STATE' } });
    expect((await call('GET', '/api/v1/vms/web')).json<Vm>()).toEqual(vm);

    expect((await act('web', 'stop')).status).toBe('succeeded');
    const tooBig = await call('PATCH', '/api/v1/vms/web', { memoryMiB: 8192 });
    expect(tooBig.statusCode).toBe(422);
    expect(tooBig.json()).toMatchObject({ error: { code: 'NO_HOST_FITS' } });
    const resized = await call('PATCH', '/api/v1/vms/web', { cpus: 2, memoryMiB: 512 });
    expect(resized.json<Vm>()).toMatchObject({ cpus: 2, memoryMiB: 512, state: 'stopped' });

    expect((await act('web', 'start')).status).toBe('succeeded');
    expect(server.agent.calls).toEqual([
      'ensure web running 1/256',
      'stop web',
      'ensure web running 2/512',
    ]);
  });

  it('lists VMs by label, with pagination', async () => {
    await createVm({ name: 'a', labels: { tier: 'web', env: 'prod' } });
    await createVm({ name: 'b', labels: { tier: 'db', env: 'prod' } });
    await createVm({ name: 'c', labels: { tier: 'web', env: 'dev' } });
    const names = async (query: string) =>
      (await call('GET', `/api/v1/vms?${query}`)).json<VmPage>().items.map((vm) => vm.name);
    expect(await names('label=env=prod')).toEqual(['a', 'b']);
    expect(await names('label=env=prod&label=tier=web')).toEqual(['a']);
    expect(await names('label=tier%3Dweb&state=running')).toEqual(['a', 'c']);
    const first = (await call('GET', '/api/v1/vms?label=tier=web&limit=1')).json<VmPage>();
    expect(first.items.map((vm) => vm.name)).toEqual(['a']);
    const next = await call(
      'GET',
      `/api/v1/vms?label=tier=web&limit=1&cursor=${first.nextCursor ?? ''}`,
    );
    expect(next.json<VmPage>()).toMatchObject({ items: [{ name: 'c' }], nextCursor: null });

    for (const query of ['label=novalue', 'label==v', 'label=a=1&label=a=2']) {
      const bad = await call('GET', `/api/v1/vms?${query}`);
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    }
  });
});

describe('operations', () => {
  it('lists newest first, filtered by status, kind and target', async () => {
    await createVm({ name: 'a' });
    await createVm({ name: 'b' });
    await act('a', 'stop');
    const list = async (query = '') =>
      (await call('GET', `/api/v1/operations?${query}`)).json<OperationPage>().items;
    expect((await list()).map((op) => `${op.kind} ${op.target.name}`)).toEqual([
      'vm.stop a',
      'vm.create b',
      'vm.create a',
    ]);
    expect((await list('kind=vm.create')).map((op) => op.target.name)).toEqual(['b', 'a']);
    expect((await list('target=a')).map((op) => op.kind)).toEqual(['vm.stop', 'vm.create']);
    expect(await list('status=running')).toEqual([]);
    const page = (await call('GET', '/api/v1/operations?limit=2')).json<OperationPage>();
    expect(page.items).toHaveLength(2);
    const rest = await list(`limit=2&cursor=${page.nextCursor ?? ''}`);
    expect(rest.map((op) => op.target.name)).toEqual(['a']);
    const bad = await call('GET', '/api/v1/operations?status=done');
    expect(bad.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  });

  it('refuses to cancel an operation that ended or does not exist', async () => {
    const created = await call('POST', '/api/v1/vms', { image: 'tiny', name: 'a' });
    const done = await waitFor(created.json<Operation>());
    const finished = await call('DELETE', `/api/v1/operations/${done.id}`);
    expect(finished.statusCode).toBe(409);
    expect(finished.json()).toMatchObject({ error: { code: 'OPERATION_FINISHED' } });
    expect((await call('GET', `/api/v1/operations/${done.id}`)).json<Operation>()).toEqual(done);
    const missing = await call('DELETE', '/api/v1/operations/nosuchop');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'OPERATION_NOT_FOUND' } });
  });

  it('cancels a create: the VM leaves the host and the store', async () => {
    const held = server.agent.hold();
    const created = (
      await call('POST', '/api/v1/vms', { image: 'tiny', name: 'a' })
    ).json<Operation>();
    await held;
    const cancel = await call('DELETE', `/api/v1/operations/${created.id}`);
    expect(cancel.statusCode).toBe(202);
    expect(cancel.json<Operation>()).toMatchObject({ id: created.id, status: 'running' });
    server.agent.release();
    expect(await waitFor(created)).toMatchObject({
      status: 'cancelled',
      error: { code: 'OPERATION_CANCELLED' },
    });
    expect(server.agent.calls).toEqual(['ensure a running 1/256', 'delete a']);
    expect((await server.store.vms.list()).items).toEqual([]);
  });

  it('cancels a start and a stop by undoing them', async () => {
    await createVm({ name: 'a' });
    await act('a', 'stop');

    let held = server.agent.hold();
    const start = (
      await call('POST', '/api/v1/vms/a/actions', { action: 'start' })
    ).json<Operation>();
    await held;
    await call('DELETE', `/api/v1/operations/${start.id}`);
    server.agent.release();
    expect((await waitFor(start)).status).toBe('cancelled');
    expect((await call('GET', '/api/v1/vms/a')).json<Vm>()).toMatchObject({
      state: 'stopped',
      desiredState: 'stopped',
    });

    await act('a', 'start');
    held = server.agent.hold();
    const stop = (
      await call('POST', '/api/v1/vms/a/actions', { action: 'stop' })
    ).json<Operation>();
    await held;
    await call('DELETE', `/api/v1/operations/${stop.id}`);
    server.agent.release();
    expect((await waitFor(stop)).status).toBe('cancelled');
    expect((await call('GET', '/api/v1/vms/a')).json<Vm>()).toMatchObject({
      state: 'running',
      desiredState: 'running',
    });
    // Each undo is a call of its own: a forced stop after the start, a start after the stop.
    const ensure = 'ensure a running 1/256';
    expect(server.agent.calls).toEqual([
      ensure,
      'stop a',
      ensure,
      'stop a',
      ensure,
      'stop a',
      ensure,
    ]);
  });
});
