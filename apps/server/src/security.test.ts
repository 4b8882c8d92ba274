import { createHmac } from 'node:crypto';
import type {
  ApiTokenCreated,
  AuditPage,
  LoginResponse,
  Operation,
  Project,
  VmPage,
} from '@novacron/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './testing.js';

// Users, sessions, API tokens, projects and quotas through the API, and what the audit log keeps.
let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  await server.close();
});

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

function call(
  method: Method,
  url: string,
  headers: Record<string, string>,
  payload?: Record<string, unknown>,
) {
  return server.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
}

const admin = () => server.auth;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function login(username: string, password: string): Promise<LoginResponse> {
  const response = await call('POST', '/api/v1/auth/login', {}, { username, password });
  expect(response.statusCode).toBe(200);
  return response.json<LoginResponse>();
}

async function createUser(username: string, role: string, project?: string) {
  const response = await call('POST', '/api/v1/users', admin(), {
    username,
    password: 'secret-pw-1',
    role,
    ...(project === undefined ? {} : { project }),
  });
  expect(response.statusCode).toBe(201);
}

async function audit(query = ''): Promise<AuditPage> {
  return (await call('GET', `/api/v1/audit${query}`, admin())).json<AuditPage>();
}

/** A JWT with its payload changed and the signature kept, or re-signed with another key. */
function forge(token: string, change: (payload: Record<string, unknown>) => void, key?: string) {
  const [header = '', body = ''] = token.split('.');
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  change(payload);
  const newBody = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const signature =
    key === undefined
      ? token.split('.')[2]
      : createHmac('sha256', key).update(`${header}.${newBody}`).digest('base64url');
  return `${header}.${newBody}.${signature}`;
}

describe('sessions', () => {
  it('refreshes with rotation; a replayed refresh token ends the session', async () => {
    await createUser('alice', 'viewer');
    const first = await login('alice', 'secret-pw-1');
    const refreshed = await call(
      'POST',
      '/api/v1/auth/refresh',
      {},
      {
        refreshToken: first.refreshToken,
      },
    );
    expect(refreshed.statusCode).toBe(200);
    const second = refreshed.json<LoginResponse>();
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect((await call('GET', '/api/v1/vms', bearer(second.accessToken))).statusCode).toBe(200);

    // The first refresh token again: it leaked, so the whole session ends.
    const replay = await call(
      'POST',
      '/api/v1/auth/refresh',
      {},
      {
        refreshToken: first.refreshToken,
      },
    );
    expect(replay.statusCode).toBe(401);
    expect((await call('GET', '/api/v1/vms', bearer(second.accessToken))).statusCode).toBe(401);
    const after = await call(
      'POST',
      '/api/v1/auth/refresh',
      {},
      {
        refreshToken: second.refreshToken,
      },
    );
    expect(after.statusCode).toBe(401);
    const entries = (await audit('?action=auth.refresh')).items;
    expect(entries.map((e) => e.result)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'success']);
  });

  it('logout ends the session: its access and refresh tokens stop working', async () => {
    await createUser('bob', 'viewer');
    const session = await login('bob', 'secret-pw-1');
    const out = await call('POST', '/api/v1/auth/logout', bearer(session.accessToken));
    expect(out.statusCode).toBe(204);
    expect((await call('GET', '/api/v1/vms', bearer(session.accessToken))).statusCode).toBe(401);
    const refresh = await call(
      'POST',
      '/api/v1/auth/refresh',
      {},
      {
        refreshToken: session.refreshToken,
      },
    );
    expect(refresh.statusCode).toBe(401);
    expect((await audit('?action=auth.logout')).items[0]).toMatchObject({
      actor: 'bob',
      result: 'success',
    });
  });

  it('refuses tampered, unsigned and foreign tokens with 401, audited, naming no user', async () => {
    await createUser('carol', 'viewer');
    const { accessToken } = await login('carol', 'secret-pw-1');
    const header = (alg: string) =>
      Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
    const elevated = forge(accessToken, (p) => (p.sub = 'someone-else'));
    const unsigned = `${header('none')}.${accessToken.split('.')[1] ?? ''}.`;
    const foreign = forge(accessToken, () => undefined, 'another-key-that-is-long-enough-32b');
    const expired = forge(accessToken, (p) => (p.exp = 1));
    for (const token of [elevated, unsigned, foreign, expired, 'nct_not-a-token']) {
      const response = await call('DELETE', '/api/v1/vms/x', bearer(token));
      expect(response.statusCode).toBe(401);
      expect(response.body).not.toContain('carol');
    }
    const refused = (await audit('?action=vm.delete')).items;
    expect(refused).toHaveLength(5);
    expect(refused.every((e) => e.result === 'UNAUTHENTICATED' && e.actor === null)).toBe(true);
  });

  it('a new password ends the user’s sessions', async () => {
    await createUser('ivan', 'viewer');
    const session = await login('ivan', 'secret-pw-1');
    const changed = await call('PUT', '/api/v1/users/ivan/password', admin(), {
      password: 'another-pw-2',
    });
    expect(changed.statusCode).toBe(204);
    expect((await call('GET', '/api/v1/vms', bearer(session.accessToken))).statusCode).toBe(401);
    await login('ivan', 'another-pw-2');
  });

  it('answers a wrong password and an unknown user alike, and audits both', async () => {
    await createUser('dave', 'viewer');
    const wrong = await call(
      'POST',
      '/api/v1/auth/login',
      {},
      {
        username: 'dave',
        password: 'not-it-at-all',
      },
    );
    const unknown = await call(
      'POST',
      '/api/v1/auth/login',
      {},
      {
        username: 'nobody',
        password: 'not-it-at-all',
      },
    );
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    const strip = (body: string) => body.replace(/"requestId":"[^"]*"/, '');
    expect(strip(wrong.body)).toBe(strip(unknown.body));
    const entries = (await audit('?action=auth.login')).items.filter((e) => e.result !== 'success');
    expect(entries.map((e) => e.actor).sort()).toEqual(['dave', 'nobody']);
  });
});

describe('API tokens', () => {
  it('acts within its project and role, is shown once, and stops at revocation', async () => {
    await call('POST', '/api/v1/projects', admin(), { name: 'team' });
    await createUser('erin', 'operator', 'team');
    const erin = await login('erin', 'secret-pw-1');
    const tooMuch = await call('POST', '/api/v1/tokens', bearer(erin.accessToken), {
      name: 'ci',
      project: 'team',
      role: 'admin',
    });
    expect(tooMuch.statusCode).toBe(403);
    const created = await call('POST', '/api/v1/tokens', bearer(erin.accessToken), {
      name: 'ci',
      project: 'team',
      role: 'viewer',
    });
    expect(created.statusCode).toBe(201);
    const token = created.json<ApiTokenCreated>();
    expect(token.token).toMatch(/^nct_/);
    const listed = await call('GET', '/api/v1/tokens', bearer(erin.accessToken));
    expect(listed.body).not.toContain(token.token);

    const viewer = bearer(token.token);
    expect((await call('GET', '/api/v1/vms?project=team', viewer)).statusCode).toBe(200);
    const create = await call('POST', '/api/v1/vms', viewer, {
      name: 'v1',
      image: 'tiny',
      project: 'team',
    });
    expect(create.statusCode).toBe(403);
    // Outside its project, the default project does not exist for it.
    expect((await call('GET', '/api/v1/vms?project=default', viewer)).statusCode).toBe(404);

    const revoke = await call('DELETE', `/api/v1/tokens/${token.id}`, bearer(erin.accessToken));
    expect(revoke.statusCode).toBe(200);
    const refused = await call('GET', '/api/v1/vms?project=team', viewer);
    expect(refused.statusCode).toBe(401);
    const entry = (await audit('?action=vm.read')).items[0];
    expect(entry).toMatchObject({ result: 'UNAUTHENTICATED', actor: null });
  });
});

describe('projects', () => {
  it('scopes lists and hides other projects, and enforces quotas at create and resize', async () => {
    const created = await call('POST', '/api/v1/projects', admin(), {
      name: 'small',
      maxVcpus: 2,
      maxVms: 2,
    });
    expect(created.statusCode).toBe(201);
    await server.store.images.create({
      name: 'tiny',
      project: 'small',
      kind: 'kernel',
      status: 'ready',
      builtin: false,
      sizeBytes: 1,
      defaultKernelArgs: '',
      sha256: 'x',
    });
    await createUser('frank', 'operator', 'small');
    const frank = bearer((await login('frank', 'secret-pw-1')).accessToken);
    const make = (name: string, cpus: number) =>
      call('POST', '/api/v1/vms', frank, {
        name,
        image: 'tiny',
        project: 'small',
        cpus,
        start: false,
      });

    const first = await make('one', 1);
    expect(first.statusCode).toBe(202);
    const over = await make('two', 2);
    expect(over.statusCode).toBe(403);
    expect(over.json()).toMatchObject({
      error: { code: 'QUOTA_EXCEEDED', details: { quota: 'vcpus', limit: 2, used: 1 } },
    });
    const operation = first.json<Operation>();
    await call('GET', `/api/v1/operations/${operation.id}/wait?timeout=10`, frank);
    const resize = await call('PATCH', `/api/v1/vms/${operation.target.id}`, frank, { cpus: 3 });
    expect(resize.json()).toMatchObject({ error: { code: 'QUOTA_EXCEEDED' } });

    // Another project's VM: invisible in lists, 404 by id, exactly like a missing one.
    const other = await call('POST', '/api/v1/vms', admin(), { name: 'hidden', image: 'tiny' });
    const hiddenId = other.json<Operation>().target.id;
    const list = (await call('GET', '/api/v1/vms', frank)).json<VmPage>();
    expect(list.items.map((vm) => vm.name)).toEqual(['one']);
    const hidden = await call('GET', `/api/v1/vms/${hiddenId}`, frank);
    const missing = await call('GET', '/api/v1/vms/no-such-vm-id', frank);
    expect(hidden.statusCode).toBe(404);
    expect(hidden.json()).toMatchObject({ error: { code: 'VM_NOT_FOUND' } });
    expect(missing.json()).toMatchObject({ error: { code: 'VM_NOT_FOUND' } });

    const usage = (await call('GET', '/api/v1/projects/small', frank)).json<Project>();
    expect(usage.usage).toMatchObject({ vcpus: 1, vms: 1 });
    const denied = await call('DELETE', '/api/v1/projects/small', frank);
    expect(denied.statusCode).toBe(403);
    const notEmpty = await call('DELETE', '/api/v1/projects/small', admin());
    expect(notEmpty.json()).toMatchObject({ error: { code: 'PROJECT_NOT_EMPTY' } });
  });
});

describe('quotas under concurrency', () => {
  it('lets exactly as many racing creates through as the VM quota allows', async () => {
    await call('POST', '/api/v1/projects', admin(), { name: 'race', maxVms: 2 });
    await server.store.images.create({
      name: 'tiny',
      project: 'race',
      kind: 'kernel',
      status: 'ready',
      builtin: false,
      sizeBytes: 1,
      defaultKernelArgs: '',
      sha256: 'x',
    });
    const answers = await Promise.all(
      ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map((name) =>
        call('POST', '/api/v1/vms', admin(), {
          name,
          image: 'tiny',
          project: 'race',
          start: false,
        }),
      ),
    );
    const statuses = answers.map((answer) => answer.statusCode).sort();
    expect(statuses).toEqual([202, 202, 403, 403, 403, 403]);
    expect((await server.store.projects.usage('race')).vms).toBe(2);
  });
});

describe('the audit log', () => {
  it('filters by user, action and time, pages, and goes out as audit events', async () => {
    const before = new Date().toISOString();
    await createUser('gina', 'viewer');
    await createUser('hank', 'viewer');
    const page = await audit('?action=user.manage&limit=1');
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({
      actor: 'admin',
      action: 'user.manage',
      target: { type: 'users', name: 'hank' },
      result: 'success',
    });
    expect(page.items[0]?.sourceAddress).toBeTruthy();
    expect(page.nextCursor).not.toBeNull();
    const next = await audit(`?action=user.manage&limit=1&cursor=${page.nextCursor ?? ''}`);
    expect(next.items[0]?.target?.name).toBe('gina');
    expect((await audit(`?user=admin&since=${before}`)).items.length).toBeGreaterThanOrEqual(2);
    expect((await audit(`?until=${before}`)).items.every((e) => e.time < before)).toBe(true);
    const events = await server.store.events.list({ types: ['audit.recorded'] });
    expect(events.length).toBeGreaterThanOrEqual(2);
  });
});
