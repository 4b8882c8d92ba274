import { request as httpRequest } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './testing.js';

// Tokens never travel in URLs, and tampered tokens are refused.

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  await server.close();
});

describe('tokens in URLs', () => {
  it('refuses ?token= and ?access_token= on any route, with or without a header', async () => {
    const token = server.auth.authorization.slice('Bearer '.length);
    for (const url of [
      `/api/v1/vms?token=${token}`,
      `/api/v1/vms?limit=5&access_token=${token}`,
      `/metrics?access_token=${token}`,
      '/healthz?token=x',
      '/api/v1/auth/login?token=x',
    ]) {
      for (const headers of [{}, server.auth]) {
        const response = await server.app.inject({ method: 'GET', url, headers });
        expect(response.statusCode, url).toBe(400);
        expect(response.json(), url).toMatchObject({ error: { code: 'TOKEN_IN_URL' } });
        expect(response.body).not.toContain(token);
      }
    }
    const fine = await server.app.inject({
      method: 'GET',
      url: '/api/v1/vms?limit=5',
      headers: server.auth,
    });
    expect(fine.statusCode).toBe(200);
  });
});

describe('tampered access tokens', () => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it('refuses a changed payload, alg none and a foreign key with 401', async () => {
    const token = server.auth.authorization.slice('Bearer '.length);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
    const forged = [
      `${header}.${b64({ ...claims, username: 'root', exp: 4_000_000_000 })}.${signature}`,
      `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`,
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, exp: 4_000_000_000 })}.`,
      `${header}.${payload}.${Buffer.from('x'.repeat(32)).toString('base64url')}`,
      `${b64({ alg: 'HS512', typ: 'JWT' })}.${payload}.${signature}`,
    ];
    for (const bad of forged) {
      const response = await server.app.inject({
        method: 'GET',
        url: '/api/v1/vms',
        headers: { authorization: `Bearer ${bad}` },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    }
  });
});

describe('WebSocket upgrades of HTTP routes', () => {
  it('answer as the route does, then close the connection', async () => {
    const address = new URL(await server.app.listen({ host: '127.0.0.1', port: 0 }));
    for (const [path, headers, status] of [
      ['/api/v1/vms', {}, 401],
      ['/api/v1/vms', server.auth, 200],
      ['/api/v1/no-such-route', server.auth, 404],
    ] as const) {
      const answer = await new Promise<{ status: number; closed: Promise<void> }>(
        (resolve, reject) => {
          const request = httpRequest({
            host: address.hostname,
            port: address.port,
            path,
            headers: {
              ...headers,
              connection: 'Upgrade',
              upgrade: 'websocket',
              'sec-websocket-version': '13',
              'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
            },
          });
          request.once('response', (response) => {
            response.resume();
            const closed = new Promise<void>((done) => response.socket.once('close', () => done()));
            resolve({ status: response.statusCode ?? 0, closed });
          });
          request.once('upgrade', () => reject(new Error(`${path} upgraded`)));
          request.once('error', reject);
          request.end();
        },
      );
      expect(answer.status, path).toBe(status);
      await answer.closed; // the test times out if the server keeps the socket
    }
  });
});
