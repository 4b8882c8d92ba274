import type {
  ApiTokenCreated,
  AuditPage,
  LoginResponse,
  Operation,
  User,
  UserPage,
} from '@novacron/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../testing.js';

// A user's roles changed after its creation (PUT and DELETE /api/v1/users/:username/roles/:project):
// what the user may do changes with its next request, sessions and API tokens alike.
let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
  await call('POST', '/api/v1/projects', server.auth, { name: 'team' });
  await server.store.images.create({
    name: 'tiny',
    project: 'team',
    kind: 'kernel',
    status: 'ready',
    builtin: false,
    sizeBytes: 1,
    defaultKernelArgs: '',
    sha256: 'x',
  });
  const created = await call('POST', '/api/v1/users', server.auth, {
    username: 'gina',
    password: 'secret-pw-1',
    role: 'viewer',
    project: 'team',
  });
  expect(created.statusCode).toBe(201);
});

afterEach(async () => {
  await server.close();
});

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

function call(
  method: Method,
  url: string,
  headers: Record<string, string>,
  payload?: Record<string, unknown>,
) {
  return server.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const setRole = (username: string, project: string, role: string) =>
  call('PUT', `/api/v1/users/${username}/roles/${project}`, server.auth, { role });
const removeRole = (username: string, project: string) =>
  call('DELETE', `/api/v1/users/${username}/roles/${project}`, server.auth);

async function login(username: string): Promise<Record<string, string>> {
  const response = await call(
    'POST',
    '/api/v1/auth/login',
    {},
    { username, password: 'secret-pw-1' },
  );
  expect(response.statusCode).toBe(200);
  return bearer(response.json<LoginResponse>().accessToken);
}

/** Two answered reads: the second one from the cache of resolved callers. */
async function inUse(headers: Record<string, string>): Promise<void> {
  for (let i = 0; i < 2; i += 1) {
    expect((await call('GET', '/api/v1/vms?project=team', headers)).statusCode).toBe(200);
  }
}

const createVm = (headers: Record<string, string>, name: string) =>
  call('POST', '/api/v1/vms', headers, { name, image: 'tiny', project: 'team', start: false });

type Answer = Awaited<ReturnType<typeof call>>;

function errorCode(response: Answer): string {
  return response.json<{ error: { code: string } }>().error.code;
}

describe('roles of an existing user', () => {
  it('a role given, changed and taken away applies from the next request', async () => {
    const gina = await login('gina');
    await inUse(gina);
    expect((await createVm(gina, 'v0')).statusCode).toBe(403);

    const raised = await setRole('gina', 'team', 'operator');
    expect(raised.statusCode).toBe(200);
    expect(raised.json<User>()).toMatchObject({
      username: 'gina',
      clusterAdmin: false,
      bindings: [{ project: 'team', role: 'operator' }],
    });
    const created = await createVm(gina, 'v1');
    expect(created.statusCode).toBe(202);
    const vmId = created.json<Operation>().target.id;

    // Tokens made while an operator: each works as long as gina's role covers it.
    const token = async (role: string) => {
      const response = await call('POST', '/api/v1/tokens', gina, {
        name: `ci-${role}`,
        project: 'team',
        role,
      });
      expect(response.statusCode).toBe(201);
      return bearer(response.json<ApiTokenCreated>().token);
    };
    const operatorToken = await token('operator');
    const viewerToken = await token('viewer');
    await inUse(operatorToken);
    await inUse(viewerToken);

    expect((await setRole('gina', 'team', 'viewer')).statusCode).toBe(200);
    expect((await createVm(gina, 'v2')).statusCode).toBe(403);
    expect((await call('GET', '/api/v1/vms?project=team', operatorToken)).statusCode).toBe(401);
    await inUse(viewerToken);

    const removed = await removeRole('gina', 'team');
    expect(removed.statusCode).toBe(200);
    expect(removed.json<User>().bindings).toEqual([]);
    // The project and its VM are hidden from her, exactly as if they did not exist.
    const vm = await call('GET', `/api/v1/vms/${vmId}`, gina);
    expect(vm.statusCode).toBe(404);
    expect(errorCode(vm)).toBe('VM_NOT_FOUND');
    expect((await call('GET', '/api/v1/projects/team', gina)).statusCode).toBe(404);
    expect((await call('GET', '/api/v1/vms?project=team', viewerToken)).statusCode).toBe(401);

    const audit = async (action: string) =>
      (await call('GET', `/api/v1/audit?action=${action}`, server.auth)).json<AuditPage>().items;
    const set = await audit('user.role.set');
    expect(set).toHaveLength(2);
    expect(set[0]).toMatchObject({
      actor: 'admin',
      target: { type: 'users', name: 'gina' },
      project: 'team',
      result: 'success',
    });
    expect(await audit('user.role.remove')).toMatchObject([
      { actor: 'admin', target: { name: 'gina' }, project: 'team', result: 'success' },
    ]);
  });

  it('gives roles in several projects, one at a time', async () => {
    await call('POST', '/api/v1/projects', server.auth, { name: 'other' });
    const response = await setRole('gina', 'other', 'admin');
    expect(response.json<User>().bindings).toEqual([
      { project: 'other', role: 'admin' },
      { project: 'team', role: 'viewer' },
    ]);
    expect((await removeRole('gina', 'team')).json<User>().bindings).toEqual([
      { project: 'other', role: 'admin' },
    ]);
  });

  it('refuses unknown users, projects, roles and bindings, the cluster admin and non-admins', async () => {
    const cases: [() => Promise<Answer>, number, string][] = [
      [() => setRole('nobody', 'team', 'viewer'), 404, 'USER_NOT_FOUND'],
      [() => removeRole('nobody', 'team'), 404, 'USER_NOT_FOUND'],
      [() => setRole('gina', 'nope', 'viewer'), 404, 'PROJECT_NOT_FOUND'],
      [() => removeRole('gina', 'nope'), 404, 'PROJECT_NOT_FOUND'],
      [() => removeRole('gina', 'default'), 404, 'ROLE_BINDING_NOT_FOUND'],
      [() => setRole('gina', 'team', 'root'), 400, 'VALIDATION_FAILED'],
      // A cluster admin has every role in every project: a binding would change nothing.
      [() => setRole('admin', 'team', 'viewer'), 400, 'VALIDATION_FAILED'],
      [() => removeRole('admin', 'team'), 400, 'VALIDATION_FAILED'],
    ];
    for (const [ask, status, code] of cases) {
      const response = await ask();
      expect([response.statusCode, errorCode(response)]).toEqual([status, code]);
    }
    const refused = await call('PUT', '/api/v1/users/gina/roles/team', await login('gina'), {
      role: 'admin',
    });
    expect(refused.statusCode).toBe(403);
    const entries = (
      await call('GET', '/api/v1/audit?action=user.role.remove', server.auth)
    ).json<AuditPage>().items;
    expect(entries.map((entry) => entry.result)).toContain('ROLE_BINDING_NOT_FOUND');
    // Nothing changed.
    const users = (await call('GET', '/api/v1/users', server.auth)).json<UserPage>().items;
    expect(users.find((user) => user.username === 'gina')?.bindings).toEqual([
      { project: 'team', role: 'viewer' },
    ]);
    expect(users.find((user) => user.username === 'admin')?.bindings).toEqual([]);
  });
});
