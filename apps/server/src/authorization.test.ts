import type { AuditEntry, Image } from '@novacron/api';
import { hashPassword } from '@novacron/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { EVENT_TYPES, type Event } from '@novacron/api';
import { createLogger } from '@novacron/telemetry';
import { eventVisibility } from './authorization.js';
import { recordedRoutes, type RouteRecord } from './openapi.js';
import { EventStreamSession } from './routes/events/session.js';
import { startTestServer, type TestServer } from './testing.js';

// The authorization matrix, generated from the app's own route table: every route x every role
// x a resource of the caller's project and one of another project. A route added later is in
// it without anyone writing a line; one without a permission does not even start (onRoute).

type Role = 'viewer' | 'operator' | 'admin' | 'cluster-admin';
const ROLES: Role[] = ['viewer', 'operator', 'admin', 'cluster-admin'];
const OWN = 'a';
const OTHER = 'b';
/** Only the cluster admin may do these, whatever its role in a project. */
const CLUSTER_ONLY = new Set([
  'host.manage',
  'project.manage',
  'user.read',
  'user.manage',
  'audit.read',
]);

let server: TestServer;
const headers = new Map<Role, Record<string, string>>();
const images = new Map<string, Image>();
let counter = 0;
const unique = (prefix: string) => `${prefix}-${(counter++).toString(36)}`;

beforeAll(async () => {
  server = await startTestServer();
  const { store, app } = server;
  const passwordHash = await hashPassword('pw-matrix-1');
  for (const project of [OWN, OTHER]) {
    await store.projects.create(project);
    images.set(
      project,
      await store.images.create({
        name: 'tiny',
        project,
        kind: 'kernel',
        status: 'ready',
        builtin: false,
        sizeBytes: 1,
        defaultKernelArgs: '',
        sha256: 'x',
      }),
    );
  }
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    const user = await store.users.create({ username: `${role}-a`, passwordHash, role: 'none' });
    await store.users.bind(user.id, OWN, role);
  }
  for (const role of ROLES) headers.set(role, await login(role));
  expect(app).toBeDefined();
});

/** A new login session of `role`'s user. */
async function login(role: Role): Promise<Record<string, string>> {
  const response = await server.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload:
      role === 'cluster-admin'
        ? { username: 'admin', password: 'pw-123456' }
        : { username: `${role}-a`, password: 'pw-matrix-1' },
  });
  expect(response.statusCode).toBe(200);
  return { authorization: `Bearer ${response.json<{ accessToken: string }>().accessToken}` };
}

/** Routes that end the caller's session: they get a session of their own. */
const SESSION_ENDING = new Set(['/api/v1/auth/logout']);

afterAll(async () => {
  await server.close();
});

/** A fresh resource per request, so that an allowed delete does not spoil the next one. */
async function freshId(scope: string | undefined, project: string, url: string): Promise<string> {
  const { store } = server;
  const host = (await store.hosts.get('h1'))?.id ?? null;
  switch (scope) {
    case 'vm': {
      const vm = await store.vms.create({
        project,
        name: unique('vm'),
        imageId: images.get(project)?.id ?? '',
        hostId: host,
        cpus: 1,
        memoryMiB: 64,
        diskGiB: 1,
        state: 'stopped',
        desiredState: 'stopped',
      });
      return vm.id;
    }
    case 'image': {
      const image = await store.images.create({
        name: unique('img'),
        project,
        kind: 'kernel',
        status: 'ready',
        builtin: false,
        sizeBytes: 1,
        defaultKernelArgs: '',
        sha256: 'x',
      });
      return image.id;
    }
    case 'operation': {
      const operation = await store.operations.create({
        kind: 'vm.start',
        target: { type: 'vm', id: 'vm-x', name: 'x' },
        project,
        status: 'running',
      });
      return operation.id;
    }
    case 'project':
    case 'body':
    case 'query':
    case undefined:
    default:
      return url.startsWith('/api/v1/hosts/') ? 'h1' : 'x';
  }
}

/** The request a route gets: its path parameters filled from its scope, a body naming the project. */
async function requestFor(route: RouteRecord, project: string) {
  let url = route.url;
  if (url.includes(':id')) {
    const id = await freshId(route.scope, project, url);
    url = url.replace(':id', id);
    // A snapshot route acts on a snapshot the VM has (a missing one would be a 404 of its own).
    if (url.includes(':snapshot')) {
      await server.store.snapshots.create({
        vmId: id,
        name: 'x',
        memory: false,
        vmState: 'stopped',
        vmStateBytes: 0,
      });
    }
  }
  if (url.includes(':name')) {
    // A project route acts on a fresh project only for the cluster admin; others see OWN/OTHER.
    url = url.replace(':name', project);
  }
  if (url.includes(':username')) {
    const user = await server.store.users.create({
      username: unique('user'),
      passwordHash: 'x',
      role: 'none',
    });
    url = url.replace(':username', user.username);
    // A role route acts on a role the user has (a missing one would be a 404 of its own).
    if (url.includes(':project')) {
      await server.store.users.bind(user.id, project, 'viewer');
      url = url.replace(':project', project);
    }
  }
  url = url.replace(/:\w+/g, 'x');
  // A wait answers at once instead of holding for the operation nobody runs.
  const query =
    route.scope === 'query' ? `?project=${project}` : url.endsWith('/wait') ? '?timeout=0' : '';
  const payload =
    route.method === 'GET' || route.method === 'DELETE'
      ? undefined
      : (BODIES[route.url]?.(project) ?? (route.scope === 'body' ? { project } : {}));
  return { url: `${url}${query}`, payload };
}

/** Bodies that make an allowed call succeed; other creations get `{ project }`, the rest `{}`. */
const BODIES: Record<string, (project: string) => Record<string, unknown>> = {
  '/api/v1/vms': (project) => ({ project, name: unique('vm'), image: 'tiny', start: false }),
  '/api/v1/images': (project) => ({ project, name: unique('img'), url: 'http://127.0.0.1:9/x' }),
  '/api/v1/users/:username/roles/:project': () => ({ role: 'operator' }),
};

type Expected = 'allow' | 403 | 404;

/** What the security model says, in words a reader can check (docs/adr/0016-security-model.md). */
function expected(route: RouteRecord, role: Role, project: string): Expected {
  const { permission = '', scope, method } = route;
  if (permission === 'public' || permission === 'self' || role === 'cluster-admin') return 'allow';
  if (CLUSTER_ONLY.has(permission)) return 403;
  if (project === OTHER && scope !== undefined) return 404;
  if (role === 'viewer' && (method !== 'GET' || permission === 'vm.console')) return 403;
  return 'allow';
}

/** The project a refusal or success is recorded under cannot be guessed for every route. */
async function lastAudit(): Promise<AuditEntry | undefined> {
  return (await server.store.audit.list({ limit: 1 })).items[0];
}

describe('the authorization matrix', () => {
  it('covers every route: each declares a permission', () => {
    const routes = recordedRoutes(server.app).filter((r) => r.url.startsWith('/api/v1/'));
    expect(routes.length).toBeGreaterThan(20);
    for (const route of routes)
      expect(route.permission, `${route.method} ${route.url}`).toBeTruthy();
  });

  it('allows, forbids (403) or hides (404) every route for every role, and audits each change', async () => {
    const routes = recordedRoutes(server.app).filter(
      (r) => r.url.startsWith('/api/v1/') && !r.websocket,
    );
    const failures: string[] = [];
    for (const route of routes) {
      for (const role of ROLES) {
        for (const project of [OWN, OTHER]) {
          // A route that acts on no project answers the same for both: ask once.
          if (project === OTHER && route.scope === undefined) continue;
          const { url, payload } = await requestFor(route, project);
          const response = await server.app.inject({
            method: route.method as 'GET',
            url,
            headers: SESSION_ENDING.has(route.url) ? await login(role) : (headers.get(role) ?? {}),
            ...(payload === undefined ? {} : { payload }),
          });
          const want = expected(route, role, project);
          const status = response.statusCode;
          const label = `${role} ${route.method} ${url} (${route.permission ?? '?'}) -> ${status} ${response.body.slice(0, 160)}; want ${want}`;
          const code =
            status >= 400 ? (response.json<{ error: { code: string } }>().error.code ?? '') : '';
          if (want === 'allow') {
            if (status === 401 || status === 403 || (status === 404 && route.scope !== undefined))
              failures.push(label);
          } else if (status !== want || (want === 404 && !code.endsWith('NOT_FOUND'))) {
            failures.push(label);
          }
          if (route.method !== 'GET') {
            const entry = await lastAudit();
            if (
              entry?.details.route !== route.url ||
              entry.details.status !== status ||
              entry.result !== (status < 400 ? 'success' : code)
            ) {
              failures.push(`not audited: ${label}; last entry ${JSON.stringify(entry)}`);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
  }, 180_000);
});

describe('WebSockets', () => {
  let address: string | undefined;
  /** The first frame the server sends after our auth message, and how it closes. */
  async function consoleAnswer(role: Role, project: string) {
    const vm = await freshId('vm', project, '');
    address ??= await server.app.listen({ host: '127.0.0.1', port: 0 });
    const socket = new WebSocket(`${address.replace('http', 'ws')}/api/v1/vms/${vm}/console`);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const token = (headers.get(role)?.authorization ?? '').slice('Bearer '.length);
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    const frame = new Promise<string>((resolve) =>
      socket.on('message', (data: Buffer) => resolve(data.toString('utf8'))),
    );
    socket.send(JSON.stringify({ type: 'auth', token }));
    const first = await frame;
    socket.terminate();
    await closed;
    return first;
  }

  it('opens a console only on a VM of the caller’s project, for an operator', async () => {
    expect(await consoleAnswer('operator', OTHER)).toContain('VM_NOT_FOUND');
    expect(await consoleAnswer('viewer', OWN)).toContain('FORBIDDEN');
    // Allowed: past authorization, the fake agent has no console to offer.
    expect(await consoleAnswer('operator', OWN)).not.toMatch(/VM_NOT_FOUND|FORBIDDEN|UNAUTH/);
  });
});

describe('the event stream', () => {
  it('carries the events of the caller’s projects only, and no audit events', async () => {
    const { store } = server;
    const frames: Event[] = [];
    const sink = {
      bufferedAmount: 0,
      send(frame: string, done: (error?: Error | null) => void) {
        const parsed = JSON.parse(frame) as Event;
        if ('seq' in parsed) frames.push(parsed);
        setImmediate(() => done());
      },
      close: () => undefined,
    };
    const viewer = {
      kind: 'user' as const,
      userId: 'u',
      username: 'viewer-a',
      global: false,
      bindings: [{ project: OWN, role: 'viewer' as const }],
    };
    const session = new EventStreamSession(store, sink, createLogger({ level: 'silent' }));
    await freshId('vm', OTHER, '');
    await store.audit.append({
      actor: 'x',
      action: 'vm.create',
      sourceAddress: '::1',
      result: 'success',
    });
    await session.start({
      types: [...EVENT_TYPES],
      since: 0,
      project: undefined,
      visible: eventVisibility(viewer),
    });
    await freshId('vm', OTHER, '');
    const last = await freshId('vm', OWN, '');
    // Events arrive in seq order: once the last one is in, nothing before it is still to come.
    for (let i = 0; i < 2000 && !frames.some((e) => e.subject.id === last); i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    session.close();
    expect(frames.some((e) => e.subject.id === last)).toBe(true);
    expect(frames.filter((e) => e.project === OTHER || e.type.startsWith('audit.'))).toEqual([]);
    expect(frames.some((e) => e.project === OWN)).toBe(true);
  });
});
