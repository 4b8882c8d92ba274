import { describe, expect, it, vi } from 'vitest';
import type { ApiToken, AuditEntry, Project, User } from '@novacron/api';
import { loadConfig } from '@novacron/config';
import type { CliClient, CliDeps } from '../context.js';
import { run } from '../main.js';

// `novacron user|project|token|audit` against a fake client: what each command sends and prints.

const project: Project = {
  id: 'p1',
  name: 'team',
  quotas: { maxVcpus: 8, maxMemoryMiB: 8192, maxDiskGiB: null, maxVms: 4 },
  usage: { vcpus: 2, memoryMiB: 512, diskGiB: 2, vms: 1 },
  createdAt: '2026-01-01T00:00:00.000Z',
};
const user: User = {
  id: 'u1',
  username: 'alice',
  clusterAdmin: false,
  bindings: [{ project: 'team', role: 'operator' }],
  createdAt: '2026-01-01T00:00:00.000Z',
};
const token: ApiToken = {
  id: 't1',
  name: 'ci',
  username: 'alice',
  project: 'team',
  role: 'viewer',
  expiresAt: '2026-04-01T00:00:00.000Z',
  revokedAt: null,
  lastUsedAt: null,
  createdAt: '2026-01-01T00:00:00.000Z',
};
const entry: AuditEntry = {
  seq: 7,
  time: '2026-01-02T00:00:00.000Z',
  actor: 'alice',
  action: 'vm.create',
  target: { type: 'vms', id: null, name: 'web' },
  project: 'team',
  sourceAddress: '127.0.0.1',
  result: 'success',
  details: {},
};

function fakeClient() {
  const unused = () => {
    throw new Error('not used by these tests');
  };
  return {
    login: vi.fn(unused),
    vms: {} as CliClient['vms'],
    hosts: {} as CliClient['hosts'],
    images: {} as CliClient['images'],
    operations: {} as CliClient['operations'],
    events: vi.fn(unused),
    users: {
      list: vi.fn(() => Promise.resolve({ items: [user], nextCursor: null })),
      create: vi.fn(() => Promise.resolve(user)),
      delete: vi.fn(() => Promise.resolve()),
      setPassword: vi.fn(() => Promise.resolve()),
      setRole: vi.fn((_username: string, project: string, role: string) =>
        Promise.resolve({ ...user, bindings: [...user.bindings, { project, role }] }),
      ),
      removeRole: vi.fn(() => Promise.resolve({ ...user, bindings: [] })),
    },
    projects: {
      list: vi.fn(() => Promise.resolve({ items: [project], nextCursor: null })),
      get: vi.fn(() => Promise.resolve(project)),
      create: vi.fn(() => Promise.resolve(project)),
      setQuotas: vi.fn(() => Promise.resolve(project)),
      delete: vi.fn(() => Promise.resolve()),
    },
    tokens: {
      list: vi.fn(() => Promise.resolve({ items: [token], nextCursor: null })),
      create: vi.fn(() => Promise.resolve({ ...token, token: 'nct_secret' })),
      revoke: vi.fn(() => Promise.resolve({ ...token, revokedAt: token.expiresAt })),
    },
    audit: {
      list: vi.fn(() => Promise.resolve({ items: [entry], nextCursor: null })),
    },
  };
}

async function cli(args: string[]) {
  const client = fakeClient();
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    createClient: vi.fn(() => client as unknown as CliClient),
    loadConfig: () =>
      loadConfig({ NOVACRON_SERVER_URL: 'http://server:8090', NOVACRON_TOKEN: 'tok' }),
    credentials: {
      get: () => Promise.resolve(undefined),
      save: () => Promise.resolve(),
      remove: () => Promise.resolve(false),
    },
    readPassword: vi.fn(() => Promise.resolve('a-password')),
  };
  const code = await run(['node', 'novacron', ...args], deps);
  return { code, stdout, stderr, client };
}

describe('security commands', () => {
  it('creates a user with a role in a project, with the password prompted', async () => {
    const { code, stdout, client } = await cli([
      'user',
      'create',
      'alice',
      '--role',
      'operator',
      '--project',
      'team',
    ]);
    expect(code).toBe(0);
    expect(client.users.create).toHaveBeenCalledWith({
      username: 'alice',
      password: 'a-password',
      role: 'operator',
      project: 'team',
    });
    expect(stdout).toContain('operator@team');
  });

  it('refuses an unknown role before calling the server', async () => {
    const { code, stderr, client } = await cli(['user', 'create', 'bob', '--role', 'root']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('role must be one of');
    expect(client.users.create).not.toHaveBeenCalled();
  });

  it('grants and revokes a role, in default unless a project is named, and prints the roles', async () => {
    const granted = await cli(['user', 'grant', 'alice', '--role', 'viewer']);
    expect(granted.code).toBe(0);
    expect(granted.client.users.setRole).toHaveBeenCalledWith('alice', 'default', 'viewer');
    expect(granted.stdout).toContain('operator@team, viewer@default');
    const json = await cli([
      'user',
      'grant',
      'alice',
      '--role',
      'admin',
      '--project',
      'lab',
      '-o',
      'json',
    ]);
    expect(json.client.users.setRole).toHaveBeenCalledWith('alice', 'lab', 'admin');
    expect(JSON.parse(json.stdout)).toMatchObject([
      { username: 'alice', bindings: [{ project: 'team' }, { project: 'lab', role: 'admin' }] },
    ]);
    const revoked = await cli(['user', 'revoke', 'alice', '--project', 'team']);
    expect(revoked.client.users.removeRole).toHaveBeenCalledWith('alice', 'team');
    expect(revoked.stdout).toMatch(/alice\s+-/);
    const bad = await cli(['user', 'grant', 'alice', '--role', 'root']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('role must be one of');
    expect(bad.client.users.setRole).not.toHaveBeenCalled();
    const missing = await cli(['user', 'grant', 'alice']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('--role');
  });

  it('sets quotas with sizes, and none lifts one', async () => {
    await cli(['project', 'create', 'team', '--max-vcpus', '8', '--max-memory', '8G']);
    const { client } = await cli([
      'project',
      'set',
      'team',
      '--max-disk',
      'none',
      '--max-vms',
      '4',
    ]);
    expect(client.projects.setQuotas).toHaveBeenCalledWith('team', {
      maxDiskGiB: null,
      maxVms: 4,
    });
    const created = await cli(['project', 'create', 'team', '--max-memory', '8G']);
    expect(created.client.projects.create).toHaveBeenCalledWith({
      name: 'team',
      maxMemoryMiB: 8192,
    });
    const listed = await cli(['project', 'list']);
    expect(listed.stdout).toContain('2/8');
  });

  it('prints a new token once, and revokes by id', async () => {
    const created = await cli(['token', 'create', 'ci', '--project', 'team', '--role', 'viewer']);
    expect(created.client.tokens.create).toHaveBeenCalledWith({
      name: 'ci',
      role: 'viewer',
      project: 'team',
    });
    expect(created.stdout).toContain('nct_secret');
    const listed = await cli(['token', 'list']);
    expect(listed.stdout).not.toContain('nct_secret');
    const revoked = await cli(['token', 'revoke', 't1']);
    expect(revoked.client.tokens.revoke).toHaveBeenCalledWith('t1');
  });

  it('lists audit entries with filters', async () => {
    const { stdout, client } = await cli([
      'audit',
      'list',
      '--user',
      'alice',
      '--action',
      'vm.create',
      '--limit',
      '10',
    ]);
    expect(client.audit.list).toHaveBeenCalledWith({
      user: 'alice',
      action: 'vm.create',
      limit: 10,
    });
    expect(stdout).toContain('vm.create');
    expect(stdout).toContain('success');
  });
});

describe('stored sessions', () => {
  it('trades an expiring access token for new tokens before a command, and keeps them', async () => {
    const client = fakeClient();
    const refresh = vi.fn(() =>
      Promise.resolve({
        accessToken: 'new-access',
        refreshToken: 'new-refresh',
        expiresAt: '2999-01-01T00:00:00.000Z',
      }),
    );
    const saved: unknown[] = [];
    const createClient = vi.fn(
      (options: { token?: string }) =>
        ({ ...client, refresh, tokenUsed: options.token }) as unknown as CliClient,
    );
    const deps: CliDeps = {
      stdout: { write: () => true },
      stderr: { write: () => true },
      createClient,
      loadConfig: () => loadConfig({ NOVACRON_SERVER_URL: 'http://server:8090' }),
      credentials: {
        get: () =>
          Promise.resolve({
            username: 'alice',
            accessToken: 'old-access',
            refreshToken: 'old-refresh',
            expiresAt: '2000-01-01T00:00:00.000Z',
          }),
        save: (_url, credentials) => Promise.resolve(void saved.push(credentials)),
        remove: () => Promise.resolve(false),
      },
      readPassword: vi.fn(() => Promise.resolve('')),
    };
    expect(await run(['node', 'novacron', 'project', 'list'], deps)).toBe(0);
    expect(refresh).toHaveBeenCalledWith('old-refresh');
    expect(saved).toEqual([
      {
        username: 'alice',
        accessToken: 'new-access',
        refreshToken: 'new-refresh',
        expiresAt: '2999-01-01T00:00:00.000Z',
      },
    ]);
    expect(createClient.mock.calls.at(-1)?.[0]).toMatchObject({ token: 'new-access' });
  });
});
