import type { Operation, Vm } from '@novacron/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './testing.js';

// The API over inject, on a SQLite store, with a fake agent: the layer below the server.
let server: TestServer;
let app: TestServer['app'];
let auth: TestServer['auth'];

beforeEach(async () => {
  server = await startTestServer();
  ({ app, auth } = server);
});

afterEach(async () => {
  await server.close();
});

async function createVm(payload: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/api/v1/vms', headers: auth, payload });
}

async function waitFor(operation: Operation): Promise<Operation> {
  const response = await app.inject({
    url: `/api/v1/operations/${operation.id}/wait?timeout=10`,
    headers: auth,
  });
  return response.json<Operation>();
}

describe('authentication', () => {
  it('answers /healthz without a token and refuses /api/v1 without one', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const response = await app.inject({ url: '/api/v1/vms' });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    const forged = await app.inject({
      url: '/api/v1/vms',
      headers: { authorization: 'Bearer abc.def.ghi' },
    });
    expect(forged.statusCode).toBe(401);
  });

  it('refuses a wrong password with INVALID_CREDENTIALS', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'admin', password: 'nope' },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ error: { code: 'INVALID_CREDENTIALS' } });
  });
});

describe('VM lifecycle through the API', () => {
  it('creates, stops and deletes a VM as operations', async () => {
    const created = await createVm({ name: 'demo', image: 'tiny', memoryMiB: 256 });
    expect(created.statusCode).toBe(202);
    expect(await waitFor(created.json<Operation>())).toMatchObject({
      status: 'succeeded',
      kind: 'vm.create',
    });
    const vm = (await app.inject({ url: '/api/v1/vms/demo', headers: auth })).json<Vm>();
    expect(vm).toMatchObject({
      name: 'demo',
      state: 'running',
      host: 'h1',
      memoryMiB: 256,
      project: 'default',
    });

    const stop = await app.inject({
      method: 'POST',
      url: '/api/v1/vms/demo/actions',
      headers: auth,
      payload: { action: 'stop' },
    });
    expect(await waitFor(stop.json<Operation>())).toMatchObject({ status: 'succeeded' });
    const deleted = await app.inject({
      method: 'DELETE',
      url: `/api/v1/vms/${vm.id}`,
      headers: auth,
    });
    expect(await waitFor(deleted.json<Operation>())).toMatchObject({ status: 'succeeded' });
    expect((await app.inject({ url: '/api/v1/vms/demo', headers: auth })).statusCode).toBe(404);
    expect(server.agent.calls).toEqual(['ensure demo running 1/256', 'stop demo', 'delete demo']);
  });

  it('refuses an action that makes no sense in the current state', async () => {
    await waitFor((await createVm({ name: 'demo', image: 'tiny' })).json<Operation>());
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/vms/demo/actions',
      headers: auth,
      payload: { action: 'resume' },
    });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ error: { code: 'VM_INVALID_STATE' } });
  });
});

describe('bad input changes nothing and reaches no agent', () => {
  const cases: [string, Record<string, unknown>, number, string][] = [
    ['unknown image', { name: 'a', image: 'nope' }, 404, 'IMAGE_NOT_FOUND'],
    ['0 memory', { name: 'a', image: 'tiny', memoryMiB: 0 }, 400, 'VALIDATION_FAILED'],
    ['more vCPUs than the host has', { name: 'a', image: 'tiny', cpus: 64 }, 422, 'NO_HOST_FITS'],
    ['shell metacharacters', { name: 'a;rm -rf /', image: 'tiny' }, 400, 'VALIDATION_FAILED'],
    ['a path separator', { name: '../etc', image: 'tiny' }, 400, 'VALIDATION_FAILED'],
    ['an unknown host', { name: 'a', image: 'tiny', host: 'nohost' }, 404, 'HOST_NOT_FOUND'],
    [
      'quotes in kernel args',
      { name: 'a', image: 'tiny', kernelArgs: 'x="$(id)"' },
      400,
      'VALIDATION_FAILED',
    ],
    ['an unknown field', { name: 'a', image: 'tiny', evil: true }, 400, 'VALIDATION_FAILED'],
  ];

  it.each(cases)('%s', async (_what, payload, status, code) => {
    const response = await createVm(payload);
    expect(response.statusCode).toBe(status);
    expect(response.json()).toMatchObject({ error: { code } });
    expect((await server.store.vms.list()).items).toEqual([]);
    expect(server.agent.calls).toEqual([]);
  });

  it('a duplicate name', async () => {
    await waitFor((await createVm({ name: 'demo', image: 'tiny' })).json<Operation>());
    const before = await server.store.vms.list();
    const response = await createVm({ name: 'demo', image: 'tiny', memoryMiB: 512 });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ error: { code: 'VM_NAME_TAKEN' } });
    expect(await server.store.vms.list()).toEqual(before);
    expect(server.agent.calls).toEqual(['ensure demo running 1/256']);
  });

  it('malformed JSON and unknown routes', async () => {
    const malformed = await app.inject({
      method: 'POST',
      url: '/api/v1/vms',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    const unknown = await app.inject({ url: '/api/v1/nothing', headers: auth });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'ROUTE_NOT_FOUND' } });
  });
});
