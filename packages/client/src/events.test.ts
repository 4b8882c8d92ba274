import type { AddressInfo } from 'node:net';
import type { Event } from '@novacron/api';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { NovaCronClient } from './client.js';
import { NovaCronApiError, NovaCronConnectionError } from './errors.js';

function event(seq: number): Event {
  return {
    seq,
    type: 'vm.updated',
    time: '2026-01-01T00:00:00.000Z',
    project: 'default',
    subject: { kind: 'vm', id: 'vm1' },
    data: {},
  };
}

interface Connection {
  url: URL;
  messages: unknown[];
  socket: WebSocket;
}

/** A scripted stand-in for the server side of the stream: the layer below the client. */
class ScriptedServer {
  readonly connections: Connection[] = [];
  private readonly server: WebSocketServer;
  onAuth: (connection: Connection) => void = () => undefined;

  private constructor(server: WebSocketServer) {
    this.server = server;
    server.on('connection', (socket, request) => {
      const connection: Connection = {
        url: new URL(request.url ?? '/', 'ws://localhost'),
        messages: [],
        socket,
      };
      this.connections.push(connection);
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { type: string };
        connection.messages.push(message);
        if (message.type === 'auth') this.onAuth(connection);
      });
    });
  }

  static async start(): Promise<ScriptedServer> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    return new ScriptedServer(server);
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const send = (connection: Connection, frame: unknown) =>
  connection.socket.send(JSON.stringify(frame));

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('NovaCronClient.events', () => {
  it('authenticates in a message, filters in the query, and resumes after a drop', async () => {
    server = await ScriptedServer.start();
    const scripted = server;
    scripted.onAuth = (connection) => {
      const since = Number(connection.url.searchParams.get('since') ?? 0);
      send(connection, { type: 'subscribed', types: ['vm.updated'], since, project: null });
      if (scripted.connections.length === 1) {
        for (const seq of [4, 5, 6]) send(connection, event(seq));
        // The drop a server restart or a network cut causes.
        setTimeout(() => connection.socket.terminate(), 50);
      } else {
        // A resend of what the client already has must not reach onEvent twice.
        for (const seq of [6, 7, 8]) send(connection, event(seq));
      }
    };
    const seen: number[] = [];
    const reconnects: number[] = [];
    const client = new NovaCronClient({ baseUrl: scripted.baseUrl, token: 'tok' });
    const stream = client.events({
      since: 3,
      types: ['vm.*'],
      WebSocket,
      reconnectDelayMs: { initial: 10, max: 100 },
      onEvent: (e) => seen.push(e.seq),
      onReconnect: ({ attempt }) => reconnects.push(attempt),
    });

    await until(() => seen.length === 5);
    expect(seen).toEqual([4, 5, 6, 7, 8]);
    expect(reconnects).toEqual([1]);
    expect(stream.lastSeq).toBe(8);
    const [first, second] = scripted.connections;
    expect(first?.url.pathname).toBe('/api/v1/events');
    expect(Object.fromEntries(first?.url.searchParams ?? [])).toEqual({
      types: 'vm.*',
      since: '3',
    });
    expect(first?.messages[0]).toEqual({ type: 'auth', token: 'tok' });
    expect(second?.url.searchParams.get('since')).toBe('6');
    expect(first?.url.search).not.toContain('tok');

    stream.close();
    await expect(stream.done).resolves.toBeUndefined();
  });

  it('hands live frames to onLive, apart from the seq order, with the dropped count', async () => {
    server = await ScriptedServer.start();
    const scripted = server;
    const sample = {
      type: 'metrics.sample',
      at: '2026-01-01T00:00:00.000Z',
      project: null,
      subject: { kind: 'host', id: 'h1', name: 'h1' },
      data: { at: '2026-01-01T00:00:00.000Z', load1: 0.5, load5: 0.4, load15: 0.3 },
    };
    scripted.onAuth = (connection) => {
      send(connection, {
        type: 'subscribed',
        types: ['vm.updated'],
        live: ['metrics.sample'],
        since: 3,
        project: null,
      });
      send(connection, event(4));
      send(connection, { type: 'live', event: sample, dropped: 0 });
      send(connection, { type: 'live', event: sample, dropped: 7 });
      send(connection, event(5));
    };
    const seen: number[] = [];
    const live: [string, number][] = [];
    const stream = new NovaCronClient({ baseUrl: scripted.baseUrl, token: 'tok' }).events({
      types: ['vm.updated', 'metrics.*'],
      WebSocket,
      onEvent: (e) => seen.push(e.seq),
      onLive: (e, { dropped }) => live.push([e.subject.name, dropped]),
    });
    await until(() => seen.length === 2);
    expect(seen).toEqual([4, 5]);
    expect(live).toEqual([
      ['h1', 0],
      ['h1', 7],
    ]);
    expect(stream.lastSeq).toBe(5);
    expect(scripted.connections[0]?.url.searchParams.get('types')).toBe('vm.updated,metrics.*');
    stream.close();
    await stream.done;
  });

  it('without since, resumes from where the server said the stream started', async () => {
    server = await ScriptedServer.start();
    const scripted = server;
    scripted.onAuth = (connection) => {
      send(connection, { type: 'subscribed', types: ['vm.updated'], since: 41, project: null });
      if (scripted.connections.length === 1) setTimeout(() => connection.socket.terminate(), 20);
    };
    const stream = new NovaCronClient({ baseUrl: scripted.baseUrl, token: 'tok' }).events({
      WebSocket,
      reconnectDelayMs: { initial: 10, max: 10 },
      onEvent: () => undefined,
    });
    await until(() => scripted.connections.length === 2);
    expect(scripted.connections[0]?.url.searchParams.has('since')).toBe(false);
    expect(scripted.connections[1]?.url.searchParams.get('since')).toBe('41');
    stream.close();
    await stream.done;
  });

  it('stops with the server error when the server refuses the token, without retrying', async () => {
    server = await ScriptedServer.start();
    server.onAuth = (connection) => {
      send(connection, {
        type: 'error',
        error: { code: 'UNAUTHENTICATED', message: 'token expired', details: {} },
      });
      connection.socket.close(4401, 'UNAUTHENTICATED: token expired');
    };
    const stream = new NovaCronClient({ baseUrl: server.baseUrl, token: 'old' }).events({
      WebSocket,
      onEvent: () => undefined,
    });
    const error = await stream.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NovaCronApiError);
    expect(error).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, message: 'token expired' });
    expect(server.connections).toHaveLength(1);
  });

  it('fails with a connection error when the server cannot be reached at all', async () => {
    server = await ScriptedServer.start();
    const baseUrl = server.baseUrl;
    await server.close();
    server = undefined;
    const stream = new NovaCronClient({ baseUrl, token: 'tok' }).events({
      WebSocket,
      onEvent: () => undefined,
    });
    await expect(stream.done).rejects.toBeInstanceOf(NovaCronConnectionError);
  });

  it('refuses filters that match no event type, and a missing token, before connecting', () => {
    const client = new NovaCronClient({ baseUrl: 'http://127.0.0.1:1', token: 'tok' });
    expect(() => client.events({ types: ['vms.*'], WebSocket, onEvent: () => undefined })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
    const anonymous = new NovaCronClient({ baseUrl: 'http://127.0.0.1:1' });
    expect(() => anonymous.events({ WebSocket, onEvent: () => undefined })).toThrow(
      expect.objectContaining({ code: 'UNAUTHENTICATED' }),
    );
  });

  it('ends when its signal aborts', async () => {
    server = await ScriptedServer.start();
    const scripted = server;
    scripted.onAuth = (connection) =>
      send(connection, { type: 'subscribed', types: ['vm.updated'], since: 0, project: null });
    const controller = new AbortController();
    const stream = new NovaCronClient({ baseUrl: scripted.baseUrl, token: 'tok' }).events({
      WebSocket,
      signal: controller.signal,
      onEvent: () => undefined,
    });
    await until(() => scripted.connections[0]?.messages.length === 1);
    controller.abort();
    await expect(stream.done).resolves.toBeUndefined();
  });
});
