import { tmpdir } from 'node:os';
import type { AddressInfo, Socket } from 'node:net';
import type { Event } from '@novacron/api';
import { AccessTokens, newSigningSecret } from '@novacron/auth';
import { NovaCronClient } from '@novacron/client';
import { systemClock, testDatabases, type Store, type TestStore } from '@novacron/store';
import { createLogger } from '@novacron/telemetry';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildApp } from '../../app.js';
import type { ServerApp } from '../../deps.js';
import { HostService } from '../../services/hosts.js';
import { OperationRunner } from '../../services/operations.js';
import { VmService } from '../../services/vms.js';
import { ImageService } from '../../services/images.js';
import { listenEvents, type EventsListener } from './listener.js';
import { registerEventStream } from './watch.js';

/** An access token of a cluster admin with a live session: the stream checks both. */
let admins = 0;
async function sessionToken(store: Store, tokens: AccessTokens): Promise<string> {
  const username = `admin-${admins++}`;
  const user = await store.users.create({ username, passwordHash: 'x', role: 'admin' });
  const session = await store.sessions.create({
    userId: user.id,
    refreshTokenHash: `unused-${user.id}`,
    expiresAt: new Date(Date.now() + 3600_000),
  });
  const claims = { sub: user.id, username, role: 'admin', sid: session.id };
  return (await tokens.issue(claims, new Date())).token;
}

// The event stream over real WebSockets, on SQLite and on PostgreSQL: what a client that
// disconnects and comes back with `since` receives.
const databases = await testDatabases({
  postgresUrl: process.env.NOVACRON_TEST_DATABASE_URL,
  requirePostgres: process.env.NOVACRON_TEST_REQUIRE_POSTGRES === '1',
});

const logger = createLogger({ level: 'silent' });

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A raw protocol client: every frame it got, and how the connection ended. */
class RawClient {
  readonly frames: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | undefined;
  response: { status: number; body: string } | undefined;
  readonly opened: Promise<void>;

  constructor(
    readonly socket: WebSocket,
    auth?: string,
  ) {
    socket.on('message', (data: Buffer) => this.frames.push(JSON.parse(data.toString()) as never));
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        this.response = { status: response.statusCode ?? 0, body };
        this.closed = { code: 1006, reason: 'handshake refused' };
      });
    });
    socket.on('error', () => undefined);
    this.opened = new Promise((resolve) => socket.once('open', () => resolve()));
    if (auth !== undefined) {
      void this.opened.then(() => socket.send(JSON.stringify({ type: 'auth', token: auth })));
    }
  }

  get events(): Event[] {
    return this.frames.filter((frame) => 'seq' in frame) as unknown as Event[];
  }

  async end(): Promise<void> {
    if (this.closed !== undefined) return;
    this.socket.close();
    await until(() => this.closed !== undefined);
  }
}

for (const database of databases) {
  if (database.skip !== undefined) {
    console.warn(`event stream on ${database.dialect} SKIPPED: ${database.skip}`);
  }

  describe.skipIf(database.skip !== undefined)(`event stream on ${database.dialect}`, () => {
    let testStore: TestStore | undefined;
    let store: Store;
    let operations: OperationRunner;
    let app: ServerApp;
    let extra: EventsListener;
    let tokens: AccessTokens;
    let token: string;
    let apiUrl: string;
    const clients: RawClient[] = [];
    /** The server's end of every connection, to cut them as a crash or network drop would. */
    const sockets = new Set<Socket>();

    beforeAll(async () => {
      testStore = await database.open();
      store = testStore.store;
      const hosts = new HostService(store, systemClock, logger);
      operations = new OperationRunner(store, systemClock, logger);
      const vms = new VmService(store, hosts, operations);
      tokens = new AccessTokens(newSigningSecret());
      app = buildApp({
        store,
        tokens,
        clock: systemClock,
        logger,
        hosts,
        operations,
        vms,
        images: new ImageService(store, operations, tmpdir()),
      });
      app.server.on('connection', (socket: Socket) => sockets.add(socket));
      await app.listen({ host: '127.0.0.1', port: 0 });
      apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      extra = await listenEvents(app, '127.0.0.1', 0);
      token = await sessionToken(store, tokens);
    });

    afterAll(async () => {
      for (const client of clients) client.socket.terminate();
      const extraClosed = extra?.close();
      await app?.close();
      await extraClosed;
      await operations?.close();
      await testStore?.cleanup();
    });

    function connect(
      query: string,
      options: { auth?: string; port?: number } = { auth: undefined },
    ): RawClient {
      const port = options.port ?? Number(new URL(apiUrl).port);
      const client = new RawClient(
        new WebSocket(`ws://127.0.0.1:${port}/api/v1/events${query}`),
        options.auth,
      );
      clients.push(client);
      return client;
    }

    /** `count` writes, each committing one operation.created event. */
    async function happen(count: number): Promise<void> {
      for (let i = 0; i < count; i += 1) {
        await store.operations.create({
          kind: 'vm.start',
          target: { type: 'vm', id: `vm${i}`, name: `vm${i}` },
          project: 'default',
        });
      }
    }

    async function storedAfter(since: number): Promise<number[]> {
      return (await store.events.list({ since, limit: 1000 })).map((event) => event.seq);
    }

    it('a client that reconnects with since=last gets every missed event once, in order, on either port', async () => {
      const start = await store.events.lastSeq();
      const first = connect('?types=operation.*', { auth: token });
      await until(() => first.frames.length === 1);
      expect(first.frames[0]).toMatchObject({ type: 'subscribed', since: start });
      await happen(5);
      await until(() => first.events.length === 5);
      await first.end();
      const last = first.events.at(-1)?.seq ?? 0;

      // Writes while nobody listens, and more while the reconnect is under way.
      await happen(7);
      const second = connect(`?types=operation.*&since=${last}`, {
        auth: token,
        port: extra.port,
      });
      await happen(3);
      const expected = await storedAfter(last);
      expect(expected).toHaveLength(10);
      await until(() => second.events.length >= expected.length);
      await happen(2);
      await until(() => second.events.length >= expected.length + 2);
      expect(second.events.map((e) => e.seq)).toEqual(await storedAfter(last));
      expect(first.events.map((e) => e.seq)).toEqual((await storedAfter(start)).slice(0, 5));
      for (const e of second.events) expect(e).toMatchObject({ type: 'operation.created' });
      await second.end();
    });

    it('the client library resumes by itself when the server drops it', async () => {
      const start = await store.events.lastSeq();
      const seen: number[] = [];
      let reconnects = 0;
      const stream = new NovaCronClient({ baseUrl: apiUrl, token }).events({
        since: start,
        types: ['operation.*'],
        WebSocket,
        reconnectDelayMs: { initial: 20, max: 200 },
        onEvent: (event) => seen.push(event.seq),
        onReconnect: () => (reconnects += 1),
      });
      await happen(4);
      await until(() => seen.length === 4);
      // Cut every stream, as a crash or a network drop would, while writes go on.
      for (const socket of sockets) socket.destroy();
      await happen(6);
      await until(() => reconnects >= 1 && seen.length >= 10);
      await happen(2);
      await until(() => seen.length >= 12);
      expect(seen).toEqual(await storedAfter(start));
      stream.close();
      await stream.done;
    });

    it('a subscribe message replaces the query filters before any event flows', async () => {
      await happen(1);
      const since = (await store.events.lastSeq()) - 1;
      const client = connect('?types=vm.*', { auth: undefined });
      await client.opened;
      client.socket.send(JSON.stringify({ type: 'auth', token }));
      client.socket.send(
        JSON.stringify({ type: 'subscribe', types: ['operation.created'], since }),
      );
      await until(() => client.events.length === 1);
      expect(client.frames[0]).toMatchObject({
        type: 'subscribed',
        types: ['operation.created'],
        since,
      });
      expect(client.frames.filter((f) => f.type === 'subscribed')).toHaveLength(1);
      await client.end();
    });

    it('refuses a token in the URL, a bad token, a missing auth and a bad message', async () => {
      const inUrl = connect(`?token=${token}`);
      await until(() => inUrl.closed !== undefined);
      expect(inUrl.closed?.code).toBe(4401);
      expect(inUrl.frames[0]).toMatchObject({ type: 'error', error: { code: 'UNAUTHENTICATED' } });

      const forged = connect('', { auth: `${token}x` });
      await until(() => forged.closed !== undefined);
      expect(forged.closed?.code).toBe(4401);
      expect(forged.events).toEqual([]);

      const noAuth = connect('');
      await noAuth.opened;
      noAuth.socket.send(JSON.stringify({ type: 'subscribe', types: ['vm.*'] }));
      await until(() => noAuth.closed !== undefined);
      expect(noAuth.closed?.code).toBe(4401);

      const garbage = connect('');
      await garbage.opened;
      garbage.socket.send('{"type":"auth"');
      await until(() => garbage.closed !== undefined);
      expect(garbage.closed?.code).toBe(4400);
      expect(garbage.frames[0]).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });

      for (const subscribe of [{ types: 'vm.*' }, { types: ['vms.*'] }, { since: -1 }]) {
        const bad = connect('', { auth: token });
        await bad.opened;
        bad.socket.send(JSON.stringify({ type: 'subscribe', ...subscribe }));
        await until(() => bad.closed !== undefined);
        expect(bad.closed?.code).toBe(4400);
        expect(bad.frames.find((f) => f.type === 'error')).toMatchObject({
          error: { code: 'VALIDATION_FAILED' },
        });
        expect(bad.events).toEqual([]);
      }
    });

    it('refuses bad filters before the upgrade with a 400 and the error body', async () => {
      for (const query of ['?types=vms.*', '?since=-1', '?since=abc', '?project=Bad_Name']) {
        const client = connect(query, { auth: token });
        await until(() => client.response !== undefined);
        expect(client.response?.status).toBe(400);
        expect(JSON.parse(client.response?.body ?? '{}')).toMatchObject({
          error: { code: 'VALIDATION_FAILED' },
        });
      }
      const plain = await fetch(`${apiUrl}/api/v1/events`);
      expect(plain.status).toBe(400);
      const other = await fetch(`http://127.0.0.1:${extra.port}/api/v1/vms`);
      expect(other.status).toBe(404);
      expect(await other.json()).toMatchObject({ error: { code: 'ROUTE_NOT_FOUND' } });
    });
  });
}

describe('event stream liveness', () => {
  let testStore: TestStore;
  let app: ServerApp;
  let url: string;
  let token: string;

  beforeAll(async () => {
    testStore = await databases[0]!.open();
    const tokens = new AccessTokens(newSigningSecret());
    token = await sessionToken(testStore.store, tokens);
    app = Fastify({ loggerInstance: logger }).withTypeProvider<TypeBoxTypeProvider>();
    await app.register(websocket);
    registerEventStream(
      app,
      { store: testStore.store, tokens, clock: systemClock, logger },
      { heartbeatMs: 100, authTimeoutMs: 300, closeGraceMs: 200 },
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/v1/events`;
  });

  afterAll(async () => {
    await app?.close();
    await testStore?.cleanup();
  });

  it('closes a connection that never authenticates', async () => {
    const client = new RawClient(new WebSocket(url));
    await until(() => client.closed !== undefined, 3000);
    expect(client.closed?.code).toBe(4401);
    expect(client.frames[0]).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });

  it('drops a client that stops answering pings, and keeps one that answers', async () => {
    const silent = new RawClient(new WebSocket(url, { autoPong: false }), token);
    const lively = new RawClient(new WebSocket(url), token);
    await until(() => silent.closed !== undefined, 3000);
    expect(silent.closed?.code).toBe(1006);
    expect(lively.closed).toBeUndefined();
    await lively.end();
  });

  it('tells its clients why when the server stops, so they come back with since', async () => {
    const { store } = testStore;
    const hosts = new HostService(store, systemClock, logger);
    const operations = new OperationRunner(store, systemClock, logger);
    const vms = new VmService(store, hosts, operations);
    const tokens = new AccessTokens(newSigningSecret());
    const server = buildApp({
      store,
      tokens,
      clock: systemClock,
      logger,
      hosts,
      operations,
      vms,
      images: new ImageService(store, operations, tmpdir()),
    });
    try {
      await server.listen({ host: '127.0.0.1', port: 0 });
      const port = (server.server.address() as AddressInfo).port;
      // The token first: a socket made before an await may open before RawClient listens for it.
      const token = await sessionToken(store, tokens);
      const client = new RawClient(new WebSocket(`ws://127.0.0.1:${port}/api/v1/events`), token);
      await until(() => client.frames.length >= 1);
      expect(client.frames[0]).toMatchObject({ type: 'subscribed' });
      await server.close();
      await until(() => client.closed !== undefined);
      expect(client.closed).toEqual({
        code: 1001,
        reason: 'server stopping; reconnect with since',
      });
    } finally {
      await server.close();
      await operations.close();
    }
  });
});
