import type { ApiTokenCreated, LoginResponse, Vm, VmPage } from '@novacron/api';
import { AccessTokens, hashPassword, newSigningSecret, type Principal } from '@novacron/auth';
import { openSqliteTestStore, type TestStore } from '@novacron/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authenticateToken } from './authenticate.js';
import { PRINCIPAL_TTL_MS, PrincipalCache } from './principal-cache.js';
import { startTestServer, type TestServer } from './testing.js';
import { VM_TTL_MS, VmCache } from './vm-cache.js';

// The caches of ADR 21: what a write through this server changes is seen by the next request.

describe('through the API, with callers cached', () => {
  let server: TestServer;
  beforeEach(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    await server.close();
  });

  const call = (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    token: string,
    body?: object,
  ) =>
    server.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { payload: body }),
    });
  const admin = () => server.auth.authorization.slice('Bearer '.length);

  async function userSession(
    username: string,
    role = 'operator',
    project?: string,
  ): Promise<LoginResponse> {
    const created = await call('POST', '/api/v1/users', admin(), {
      username,
      password: 'secret-pw-1',
      role,
      ...(project === undefined ? {} : { project }),
    });
    expect(created.statusCode).toBe(201);
    const login = await server.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username, password: 'secret-pw-1' },
    });
    expect(login.statusCode).toBe(200);
    return login.json<LoginResponse>();
  }

  /** Two answered calls: the second one comes from the cache. */
  async function inUse(token: string): Promise<void> {
    for (let i = 0; i < 2; i += 1) {
      expect((await call('GET', '/api/v1/vms', token)).statusCode).toBe(200);
    }
  }

  it('a logged-out session stops at once', async () => {
    const alice = await userSession('alice');
    await inUse(alice.accessToken);
    expect((await call('POST', '/api/v1/auth/logout', alice.accessToken)).statusCode).toBe(204);
    expect((await call('GET', '/api/v1/vms', alice.accessToken)).statusCode).toBe(401);
  });

  it('a revoked API token stops at once', async () => {
    const alice = await userSession('alice');
    const created = await call('POST', '/api/v1/tokens', alice.accessToken, {
      name: 'ci',
      role: 'viewer',
    });
    expect(created.statusCode).toBe(201);
    const token = created.json<ApiTokenCreated>();
    await inUse(token.token);
    expect((await call('DELETE', `/api/v1/tokens/${token.id}`, alice.accessToken)).statusCode).toBe(
      200,
    );
    expect((await call('GET', '/api/v1/vms', token.token)).statusCode).toBe(401);
  });

  it('a changed password and a deleted user end their sessions and tokens at once', async () => {
    const alice = await userSession('alice');
    const bob = await userSession('bob');
    const bobs = (
      await call('POST', '/api/v1/tokens', bob.accessToken, { name: 'ci', role: 'viewer' })
    ).json<ApiTokenCreated>();
    await inUse(alice.accessToken);
    await inUse(bob.accessToken);
    await inUse(bobs.token);
    const changed = await call('PUT', '/api/v1/users/alice/password', admin(), {
      password: 'another-pw-2',
    });
    expect(changed.statusCode).toBe(204);
    expect((await call('GET', '/api/v1/vms', alice.accessToken)).statusCode).toBe(401);
    expect((await call('DELETE', '/api/v1/users/bob', admin())).statusCode).toBe(204);
    expect((await call('GET', '/api/v1/vms', bob.accessToken)).statusCode).toBe(401);
    expect((await call('GET', '/api/v1/vms', bobs.token)).statusCode).toBe(401);
  });

  it('a VM read again, alone or in a page, shows a change at once, and a deleted one is gone', async () => {
    const image = (await server.store.images.list('default')).find((i) => i.name === 'tiny');
    const { id } = await server.store.vms.create({
      project: 'default',
      name: 'v1',
      imageId: image?.id ?? '',
      cpus: 1,
      memoryMiB: 128,
      diskGiB: 1,
      desiredState: 'stopped',
    });
    const get = async () => call('GET', `/api/v1/vms/${id}`, admin());
    await get();
    const before = (await get()).json<Vm>();
    const page = async () => (await call('GET', '/api/v1/vms', admin())).json<VmPage>().items;
    await page();
    expect((await page()).map((vm) => vm.description)).toEqual(['']);
    expect((await page()).map((vm) => vm.description)).toEqual(['']); // the page kept whole
    // A write by a service (not through the app's routes): its vm.updated event drops the entry.
    await server.store.vms.update(id, { description: 'changed' });
    const after = (await get()).json<Vm>();
    expect(after.description).toBe('changed');
    expect(after.version).toBe(before.version + 1);
    expect(await page()).toEqual([after]);
    await server.store.vms.delete(id);
    expect((await get()).statusCode).toBe(404);
    expect(await page()).toEqual([]);
  });

  it('a page kept for one caller is never shown to another', async () => {
    const image = (await server.store.images.list('default')).find((i) => i.name === 'tiny');
    for (const project of ['red', 'blue']) {
      expect((await call('POST', '/api/v1/projects', admin(), { name: project })).statusCode).toBe(
        201,
      );
      await server.store.vms.create({
        project,
        name: `${project}-vm`,
        imageId: image?.id ?? '',
        cpus: 1,
        memoryMiB: 128,
        diskGiB: 1,
        desiredState: 'stopped',
      });
    }
    const red = await userSession('red-user', 'viewer', 'red');
    const blue = await userSession('blue-user', 'viewer', 'blue');
    const names = async (token: string, url = '/api/v1/vms') =>
      (await call('GET', url, token)).json<VmPage>().items.map((vm) => vm.name);
    // Asked again and again, in turn: the first ask reads, the second keeps, the rest are kept.
    for (let i = 0; i < 3; i += 1) {
      expect(await names(red.accessToken)).toEqual(['red-vm']);
      expect(await names(blue.accessToken)).toEqual(['blue-vm']);
      expect(await names(admin())).toEqual(['red-vm', 'blue-vm']);
      expect(await names(admin(), '/api/v1/vms?project=red')).toEqual(['red-vm']);
      expect((await call('GET', '/api/v1/vms?project=red', blue.accessToken)).statusCode).toBe(404);
    }
  });
});

describe('caches over a store', () => {
  let testStore: TestStore;
  let now = 1_800_000_000_000;
  const clock = { now: () => new Date(now) };
  beforeEach(async () => {
    testStore = await openSqliteTestStore();
  });
  afterEach(async () => {
    await testStore.cleanup();
  });

  async function session(cache: PrincipalCache) {
    const { store } = testStore;
    const project = await store.projects.create('team');
    const user = await store.users.create({
      username: 'carol',
      passwordHash: await hashPassword('pw-123456'),
      role: 'none',
    });
    await store.users.bind(user.id, project.name, 'viewer');
    const created = await store.sessions.create({
      userId: user.id,
      refreshTokenHash: 'h',
      expiresAt: new Date(now + 3600_000),
    });
    const tokens = new AccessTokens(newSigningSecret());
    const { token } = await tokens.issue(
      { sub: user.id, username: user.username, role: user.role, sid: created.id },
      clock.now(),
    );
    const deps = { store: cache.guard(store), tokens, clock, principals: cache };
    return {
      user,
      token,
      deps,
      roles: async () => (await authenticateToken(deps, token)).bindings,
    };
  }

  it('a role changed through the guarded store applies to the next request', async () => {
    const cache = new PrincipalCache(clock);
    const { user, deps, roles } = await session(cache);
    expect(await roles()).toEqual([{ project: 'team', role: 'viewer' }]);
    expect(cache.size).toBe(1);
    await deps.store.users.bind(user.id, 'team', 'operator');
    expect(cache.size).toBe(0);
    expect(await roles()).toEqual([{ project: 'team', role: 'operator' }]);
  });

  it('a write the cache cannot see (another replica) shows within the TTL', async () => {
    const cache = new PrincipalCache(clock);
    const { user, roles } = await session(cache);
    await roles();
    // Straight to the store, as a write through another server would be.
    await testStore.store.users.bind(user.id, 'team', 'operator');
    expect(await roles()).toEqual([{ project: 'team', role: 'viewer' }]);
    now += PRINCIPAL_TTL_MS;
    expect(await roles()).toEqual([{ project: 'team', role: 'operator' }]);
  });

  it('keeps nothing a read resolved while a write ran', async () => {
    const cache = new PrincipalCache(clock);
    const principal: Principal = {
      kind: 'user',
      userId: 'u1',
      username: 'dave',
      global: false,
      bindings: [],
    };
    const mark = cache.mark();
    await cache.guard(testStore.store).projects.create('other');
    cache.set('s:1', mark, principal, now + 60_000);
    expect(cache.get('s:1')).toBeUndefined();
    cache.set('s:1', cache.mark(), principal, now + 60_000);
    expect(cache.get('s:1')).toBe(principal);
    // Nor past the expiry of the session or token it stands for.
    now += 60_000;
    expect(cache.get('s:1')).toBeUndefined();
  });

  it('a VM changed on another replica shows within the TTL; one changed here at once', async () => {
    const { store } = testStore;
    const image = await store.images.create({
      name: 'tiny',
      project: 'default',
      kind: 'kernel',
      status: 'ready',
      builtin: true,
      sizeBytes: 1,
      defaultKernelArgs: '',
      sha256: 'x',
    });
    const vm = await store.vms.create({
      project: 'default',
      name: 'v1',
      imageId: image.id,
      cpus: 1,
      memoryMiB: 128,
      diskGiB: 1,
      desiredState: 'stopped',
    });
    const cache = new VmCache(store, clock);
    expect((await cache.get(vm.id))?.version).toBe(1);
    await store.vms.update(vm.id, { description: 'here' });
    expect((await cache.get(vm.id))?.description).toBe('here');
    // Another replica's write: no event here. Simulated by a store of its own over the same file.
    cache.close();
    const blind = new VmCache({ ...store, onEvent: () => () => undefined }, clock);
    expect((await blind.get(vm.id))?.description).toBe('here');
    await store.vms.update(vm.id, { description: 'there' });
    expect((await blind.get(vm.id))?.description).toBe('here');
    now += VM_TTL_MS;
    expect((await blind.get(vm.id))?.description).toBe('there');
    // Names are looked up, never cached.
    expect((await blind.get('v1'))?.id).toBe(vm.id);
  });
});
