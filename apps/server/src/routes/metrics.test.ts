import type { Operation } from '@novacron/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing.js';

// The server's /metrics: behind a token, labelled by route pattern, with logins, operations,
// VMs and hosts.

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  await server.close();
});

const scrape = async () => {
  const response = await server.app.inject({
    method: 'GET',
    url: '/metrics',
    headers: server.auth,
  });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.body;
};

describe('GET /metrics', () => {
  it('needs a token', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });

  it('counts requests by route pattern and status, logins, operations, VMs and hosts', async () => {
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/v1/vms',
      headers: server.auth,
      payload: { name: 'web', image: 'tiny' },
    });
    expect(created.statusCode).toBe(202);
    const wait = await server.app.inject({
      method: 'GET',
      url: `/api/v1/operations/${created.json<Operation>().id}/wait?timeout=10`,
      headers: server.auth,
    });
    expect(wait.json<Operation>().status).toBe('succeeded');
    for (const name of ['web', 'nope', 'nope2']) {
      await server.app.inject({ method: 'GET', url: `/api/v1/vms/${name}`, headers: server.auth });
    }
    await server.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'admin', password: 'wrong' },
    });

    const body = await scrape();
    const line = (pattern: string) => new RegExp(`^${pattern} (\\d+(\\.\\d+)?)$`, 'm');
    const value = (pattern: string) => Number(line(pattern).exec(body)?.[1]);
    const request = (method: string, route: string, status: number) =>
      `novacron_api_request_duration_seconds_count\\{method="${method}",route="${route.replace(/[/]/g, '\\/')}",status="${status}"\\}`;
    // The pattern, not the URL: both unknown names land on one series.
    expect(value(request('GET', '/api/v1/vms/:id', 200))).toBe(1);
    expect(value(request('GET', '/api/v1/vms/:id', 404))).toBe(2);
    expect(value(request('POST', '/api/v1/vms', 202))).toBe(1);
    expect(body).not.toContain('nope');
    expect(value('novacron_logins_total\\{result="success"\\}')).toBe(1);
    expect(value('novacron_logins_total\\{result="invalid_credentials"\\}')).toBe(1);
    expect(value('novacron_operations_total\\{kind="vm.create",result="succeeded"\\}')).toBe(1);
    expect(value('novacron_vms\\{state="running"\\}')).toBe(1);
    expect(value('novacron_hosts\\{state="ready"\\}')).toBe(1);
  });
});
