import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './testing.js';

// Slow and oversized clients over a real listener, with short limits passed in: each is cut off
// with the usual error body and a closed connection, and the server keeps serving others.

const REQUEST_TIMEOUT_MS = 1000;
const BODY_LIMIT = 16 * 1024;

let server: TestServer;
let port: number;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = await startTestServer({
    limits: {
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      connectionTimeoutMs: 5000,
      bodyLimit: BODY_LIMIT,
    },
  });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  port = typeof address === 'object' && address !== null ? address.port : 0;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await server.close();
});

interface Exchange {
  /** Everything the server sent. */
  answer: string;
  /** From the first byte written to the connection closing. */
  elapsedMs: number;
}

/**
 * Opens a raw connection, writes `head`, then `trickle` one byte at a time every `everyMs`, and
 * collects what the server answers until it closes the connection (or `limitMs` passes).
 */
function exchange(head: string, trickle = '', everyMs = 200, limitMs = 10_000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.add(socket);
    const started = Date.now();
    let answer = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const limit = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server held the connection for ${limitMs} ms: ${answer}`));
    }, limitMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(limit);
      clearInterval(timer);
      sockets.delete(socket);
      resolve({ answer, elapsedMs: Date.now() - started });
    });
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (sent < trickle.length && !socket.destroyed) socket.write(trickle[sent++] ?? '');
      }, everyMs);
    });
  });
}

function errorCodeOf(answer: string): string | undefined {
  const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

function requestHead(method: string, path: string, headers: Record<string, string>): string {
  const lines = Object.entries({ host: `127.0.0.1:${port}`, ...server.auth, ...headers }).map(
    ([key, value]) => `${key}: ${value}`,
  );
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

describe('limits on a real listener', () => {
  it('cuts off a client that trickles its body, with 408 REQUEST_TIMEOUT', async () => {
    const body = JSON.stringify({ name: 'slow', image: 'tiny' });
    const { answer, elapsedMs } = await exchange(
      requestHead('POST', '/api/v1/vms', {
        'content-type': 'application/json',
        'content-length': String(body.length),
      }),
      body,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(errorCodeOf(answer)).toBe('REQUEST_TIMEOUT');
    expect(elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    // Node checks at a quarter of the timeout: the cut comes soon after it.
    expect(elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS * 3);
    expect((await server.store.vms.list()).items).toEqual([]);
  });

  it('cuts off a client that trickles its headers, and one that sends nothing', async () => {
    const slowHeaders = await exchange('GET /api/v1/vms HTTP/1.1\r\n', 'x-slow: aaaaaaaaaaaaaaaa');
    expect(slowHeaders.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(errorCodeOf(slowHeaders.answer)).toBe('REQUEST_TIMEOUT');
    expect(slowHeaders.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS * 3);

    const silent = await exchange('');
    expect(silent.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS * 3);
    expect(errorCodeOf(silent.answer)).toBe('REQUEST_TIMEOUT');
  });

  it('refuses an oversized body with 413 PAYLOAD_TOO_LARGE and oversized headers with 431', async () => {
    const big = await exchange(
      requestHead('POST', '/api/v1/vms', {
        'content-type': 'application/json',
        'content-length': String(BODY_LIMIT + 1),
        connection: 'close',
      }),
    );
    expect(big.answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(errorCodeOf(big.answer)).toBe('PAYLOAD_TOO_LARGE');

    const headers = await exchange(
      requestHead('GET', '/api/v1/vms', { 'x-big': 'h'.repeat(20_000) }),
    );
    expect(headers.answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(errorCodeOf(headers.answer)).toBe('HEADERS_TOO_LARGE');
  });

  it('answers garbage with 400 and keeps serving', async () => {
    const garbage = await exchange('\u0000\u0001 nonsense\r\n\r\n');
    expect(garbage.answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(errorCodeOf(garbage.answer)).toBe('VALIDATION_FAILED');

    const ok = await exchange(requestHead('GET', '/api/v1/hosts', { connection: 'close' }));
    expect(ok.answer).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('keeps a long-poll wait open past the idle timeout and answers it', async () => {
    // A create whose agent call hangs: its operation stays running for the whole wait.
    const held = server.agent.hold();
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/v1/vms',
      headers: server.auth,
      payload: { name: 'waited', image: 'tiny' },
    });
    await held;
    const id = created.json<{ id: string }>().id;
    const waited = await exchange(
      requestHead('GET', `/api/v1/operations/${id}/wait?timeout=6`, { connection: 'close' }),
    );
    server.agent.release();
    expect(waited.answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(waited.elapsedMs).toBeGreaterThanOrEqual(5500);
  });
});
