import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Operation } from '@novacron/api';
import { NovaCronClient } from './client.js';
import { NovaCronApiError, NovaCronConnectionError } from './errors.js';

interface Call {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
}

type Answer = { status?: number; json?: unknown; text?: string } | Error;

/** A fetch that records each request and answers from a script, as the server would over HTTP. */
function fakeFetch(answer: (call: Call) => Answer) {
  const calls: Call[] = [];
  const fetch = vi.fn((input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const call: Call = {
      method: init?.method ?? 'GET',
      url: new URL(input instanceof Request ? input.url : input),
      headers: { ...(init?.headers as Record<string, string>) },
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    const result = answer(call);
    if (result instanceof Error) return Promise.reject(result);
    const body = result.text ?? JSON.stringify(result.json);
    return Promise.resolve(new Response(body, { status: result.status ?? 200 }));
  });
  return { fetch, calls };
}

function operation(status: Operation['status'], extra: Partial<Operation> = {}): Operation {
  return {
    id: 'op1',
    kind: 'vm.start',
    status,
    phase: status,
    progress: status === 'succeeded' ? 100 : 0,
    target: { type: 'vm', id: 'vm1', name: 'demo' },
    result: null,
    metadata: null,
    error: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('NovaCronClient requests', () => {
  it('repeats a list filter given as an array, and patches with PATCH', async () => {
    const { fetch, calls } = fakeFetch((call) =>
      call.method === 'GET' ? { json: { items: [], nextCursor: null } } : { json: {} },
    );
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', fetch });

    await client.vms.list({ label: ['tier=web', 'env=prod'], project: 'default' });
    await client.vms.patch('demo', { labels: { tier: null }, restartPolicy: 'always' });
    await client.hosts.patch('h1', { cordoned: true });

    expect(calls[0]?.url.searchParams.getAll('label')).toEqual(['tier=web', 'env=prod']);
    expect(calls[0]?.url.searchParams.get('project')).toBe('default');
    expect([calls[1]?.method, calls[1]?.url.pathname, calls[1]?.body]).toEqual([
      'PATCH',
      '/api/v1/vms/demo',
      { labels: { tier: null }, restartPolicy: 'always' },
    ]);
    expect([calls[2]?.method, calls[2]?.url.pathname, calls[2]?.body]).toEqual([
      'PATCH',
      '/api/v1/hosts/h1',
      { cordoned: true },
    ]);
  });

  it('asks for a join token with POST /api/v1/hosts', async () => {
    const token = {
      name: 'node1',
      token: 'ncj1.x.y',
      expiresAt: '2026-01-01T01:00:00.000Z',
      joinCommand: 'novacron agent --server https://10.0.0.1:8093 --join ncj1.x.y --name node1',
    };
    const { fetch, calls } = fakeFetch(() => ({ status: 201, json: token }));
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', token: 't', fetch });

    expect(await client.hosts.add('node1')).toEqual(token);
    expect([calls[0]?.method, calls[0]?.url.pathname, calls[0]?.body]).toEqual([
      'POST',
      '/api/v1/hosts',
      { name: 'node1' },
    ]);
  });

  it('lists and cancels operations', async () => {
    const { fetch, calls } = fakeFetch((call) =>
      call.method === 'GET'
        ? { json: { items: [operation('running')], nextCursor: null } }
        : { status: 202, json: operation('running') },
    );
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', fetch });

    const page = await client.operations.list({ status: 'running', target: 'demo' });
    const cancelled = await client.operations.cancel('op1');

    expect(page.items.map((op) => op.id)).toEqual(['op1']);
    expect(Object.fromEntries(calls[0]?.url.searchParams ?? [])).toEqual({
      status: 'running',
      target: 'demo',
    });
    expect([calls[1]?.method, calls[1]?.url.pathname]).toEqual([
      'DELETE',
      '/api/v1/operations/op1',
    ]);
    expect(cancelled.status).toBe('running');
  });

  it('creates a VM with a bearer token and a JSON body, and returns the operation', async () => {
    const { fetch, calls } = fakeFetch(() => ({
      status: 202,
      json: operation('pending', { kind: 'vm.create' }),
    }));
    const client = new NovaCronClient({ baseUrl: 'http://server:8090/', token: 't0k', fetch });

    const op = await client.vms.create({ name: 'demo', image: 'tiny', memoryMiB: 256 });

    expect(op.kind).toBe('vm.create');
    expect(calls[0]?.method).toBe('POST');
    expect(calls[0]?.url.href).toBe('http://server:8090/api/v1/vms');
    expect(calls[0]?.headers.authorization).toBe('Bearer t0k');
    expect(calls[0]?.headers['content-type']).toBe('application/json');
    expect(calls[0]?.body).toEqual({ name: 'demo', image: 'tiny', memoryMiB: 256 });
  });

  it('sends only the list filters that are set', async () => {
    const { fetch, calls } = fakeFetch(() => ({ json: { items: [], nextCursor: null } }));
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', fetch });

    await client.vms.list({ state: 'running', cursor: 'c2', host: undefined });

    expect(calls[0]?.url.pathname).toBe('/api/v1/vms');
    expect(Object.fromEntries(calls[0]?.url.searchParams ?? [])).toEqual({
      state: 'running',
      cursor: 'c2',
    });
    expect(calls[0]?.headers.authorization).toBeUndefined();
  });

  it('routes actions, deletes and gets by id or name', async () => {
    const { fetch, calls } = fakeFetch(() => ({ status: 202, json: operation('pending') }));
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', fetch });

    await client.vms.action('demo', { action: 'stop', force: true });
    await client.vms.delete('demo', { force: true });
    await client.vms.delete('demo');
    await client.hosts.get('host-1');
    await client.images.get('tiny');
    await client.operations.get('op1');

    expect(calls.map((c) => `${c.method} ${c.url.pathname}${c.url.search}`)).toEqual([
      'POST /api/v1/vms/demo/actions',
      'DELETE /api/v1/vms/demo?force=true',
      'DELETE /api/v1/vms/demo',
      'GET /api/v1/hosts/host-1',
      'GET /api/v1/images/tiny',
      'GET /api/v1/operations/op1',
    ]);
    expect(calls[0]?.body).toEqual({ action: 'stop', force: true });
    // A DELETE has no body, so it must not claim a JSON one.
    expect(calls[1]?.headers['content-type']).toBeUndefined();
  });

  it('reads console output as text', async () => {
    const { fetch, calls } = fakeFetch(() => ({ text: 'NOVACRON-GUEST-READY\nHEARTBEAT 1 2\n' }));
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', fetch });

    const output = await client.vms.consoleOutput('demo', { tailBytes: 4096 });

    expect(output).toBe('NOVACRON-GUEST-READY\nHEARTBEAT 1 2\n');
    expect(calls[0]?.url.search).toBe('?tailBytes=4096');
    expect(calls[0]?.headers.accept).toBe('text/plain');
  });

  it('logs in without a token', async () => {
    const tokens = { accessToken: 'a', refreshToken: 'r', expiresAt: '2026-01-01T01:00:00.000Z' };
    const { fetch, calls } = fakeFetch(() => ({ json: tokens }));
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', fetch });

    expect(await client.login('admin', 'secret')).toEqual(tokens);
    expect(calls[0]?.url.pathname).toBe('/api/v1/auth/login');
    expect(calls[0]?.body).toEqual({ username: 'admin', password: 'secret' });
  });

  it('refuses an id that would escape its path segment, before sending anything', async () => {
    const { fetch } = fakeFetch(() => ({ json: {} }));
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', fetch });

    for (const bad of ['..', 'a/b', '', 'x'.repeat(65)]) {
      await expect(client.vms.get(bad)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    expect(fetch).not.toHaveBeenCalled();
  });
});

describe('NovaCronClient errors', () => {
  it("turns the server's error body into a NovaCronApiError", async () => {
    const { fetch } = fakeFetch(() => ({
      status: 404,
      json: {
        error: {
          code: 'VM_NOT_FOUND',
          message: "vm 'ghost' not found",
          details: { vm: 'ghost' },
          requestId: 'req-7',
        },
      },
    }));
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', fetch });

    const error: unknown = await client.vms.get('ghost').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NovaCronApiError);
    expect(error).toMatchObject({
      status: 404,
      code: 'VM_NOT_FOUND',
      message: "vm 'ghost' not found",
      details: { vm: 'ghost' },
      requestId: 'req-7',
    });
  });

  it('gives an answer without an error body a code from its status', async () => {
    const { fetch } = fakeFetch(() => ({ status: 502, text: '<html>Bad Gateway</html>' }));
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', fetch });

    await expect(client.hosts.list()).rejects.toMatchObject({
      status: 502,
      code: 'INTERNAL',
      message: 'GET /api/v1/hosts answered HTTP 502: <html>Bad Gateway</html>',
    });
  });

  it('names the server URL when it cannot be reached', async () => {
    const refused = new TypeError('fetch failed', {
      cause: new Error('connect ECONNREFUSED 127.0.0.1:8090'),
    });
    const { fetch } = fakeFetch(() => refused);
    const client = new NovaCronClient({ baseUrl: 'http://127.0.0.1:8090', fetch });

    const error: unknown = await client.healthz().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NovaCronConnectionError);
    expect(error).toMatchObject({
      code: 'CONNECTION_FAILED',
      url: 'http://127.0.0.1:8090',
      message:
        'cannot reach the NovaCron server at http://127.0.0.1:8090: connect ECONNREFUSED 127.0.0.1:8090',
    });
  });
});

describe('operations.wait', () => {
  /** The server holds each wait request for its `timeout`; the fake advances the clock instead. */
  function waitingServer(statuses: Operation['status'][]) {
    vi.useFakeTimers({ toFake: ['Date'], now: 0 });
    return fakeFetch((call) => {
      vi.setSystemTime(Date.now() + Number(call.url.searchParams.get('timeout')) * 1000);
      return { json: operation(statuses.shift() ?? 'running') };
    });
  }

  it('asks again until the operation ends', async () => {
    const { fetch, calls } = waitingServer(['running', 'running', 'succeeded']);
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', fetch });
    const seen: string[] = [];

    const op = await client.operations.wait('op1', 300, {
      pollSeconds: 10,
      onUpdate: (o) => seen.push(o.status),
    });

    expect(op.status).toBe('succeeded');
    expect(seen).toEqual(['running', 'running', 'succeeded']);
    expect(calls.map((c) => c.url.pathname + c.url.search)).toEqual([
      '/api/v1/operations/op1/wait?timeout=10',
      '/api/v1/operations/op1/wait?timeout=10',
      '/api/v1/operations/op1/wait?timeout=10',
    ]);
  });

  it('returns the unfinished operation once the overall deadline passes', async () => {
    const { fetch, calls } = waitingServer([]);
    const client = new NovaCronClient({ baseUrl: 'http://server:8090', fetch });

    const op = await client.operations.wait('op1', 25, { pollSeconds: 10 });

    expect(op.status).toBe('running');
    expect(calls.map((c) => c.url.searchParams.get('timeout'))).toEqual(['10', '10', '5']);
  });
});

describe('NovaCronClient in a browser', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('calls the global fetch unbound, as a browser requires (else: Illegal invocation)', async () => {
    // A browser's fetch throws when called as a method of anything but the window.
    const browserFetch = vi.fn(function (this: unknown): Promise<Response> {
      if (this !== undefined && this !== globalThis) throw new TypeError('Illegal invocation');
      return Promise.resolve(new Response(JSON.stringify({ status: 'ok' })));
    });
    vi.stubGlobal('fetch', browserFetch);
    const client = new NovaCronClient({ baseUrl: 'http://server:8090' });

    await expect(client.healthz()).resolves.toEqual({ status: 'ok' });
    expect(browserFetch).toHaveBeenCalledOnce();
  });
});
