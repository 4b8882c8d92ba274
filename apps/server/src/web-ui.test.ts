import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from '@novacron/testkit';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './testing.js';
import { isWebUiRequest, resolveWebUiFile, webUiHandler } from './web-ui.js';

let dir: Awaited<ReturnType<typeof makeTempDir>>;

async function put(path: string, body: string) {
  await mkdir(join(dir.path, 'out', path, '..'), { recursive: true });
  await writeFile(join(dir.path, 'out', path), body);
}

/** The same wiring as buildApp's not-found handler, over `root`. */
function appOver(root: string) {
  const app = Fastify();
  const webUi = webUiHandler(root);
  app.setNotFoundHandler((request, reply) =>
    isWebUiRequest(request) ? webUi(request, reply) : reply.code(404).send({ api: true }),
  );
  return app;
}

beforeAll(async () => {
  dir = await makeTempDir();
  await put('index.html', 'overview');
  await put('404.html', 'shell not found');
  await put('vms.html', 'vm list');
  await put('vms/view.html', 'vm page');
  await put('_next/static/chunks/app.js', 'code');
  await writeFile(join(dir.path, 'secret'), 'outside');
});

afterAll(async () => {
  await dir.remove();
});

describe('the web UI', () => {
  it('serves pages by path, with the query string left to the page', async () => {
    const app = appOver(join(dir.path, 'out'));
    const root = await app.inject({ url: '/' });
    expect([root.statusCode, root.body, root.headers['content-type']]).toEqual([
      200,
      'overview',
      'text/html; charset=utf-8',
    ]);
    expect(root.headers['cache-control']).toBe('no-cache');
    expect(root.headers['content-security-policy']).toContain("default-src 'self'");
    expect((await app.inject({ url: '/vms' })).body).toBe('vm list');
    expect((await app.inject({ url: '/vms/view?id=vm-1' })).body).toBe('vm page');
    const script = await app.inject({ url: '/_next/static/chunks/app.js' });
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toContain('immutable');
  });

  it('answers unknown paths with the shell not-found page, never a file outside the export', async () => {
    const app = appOver(join(dir.path, 'out'));
    for (const url of ['/nothing', '/../secret', '/%2e%2e/secret', '/..%2fsecret', '/a%00b']) {
      const response = await app.inject({ url });
      expect([url, response.statusCode, response.body]).toEqual([url, 404, 'shell not found']);
    }
    expect(await resolveWebUiFile(join(dir.path, 'out'), '/..%2Fsecret')).toBeUndefined();
    // API paths and other methods stay the API's.
    expect((await app.inject({ url: '/api/v1/nothing' })).json()).toEqual({ api: true });
    expect((await app.inject({ method: 'POST', url: '/vms' })).json()).toEqual({ api: true });
  });

  it('says how to build the UI when it is not built', async () => {
    const response = await appOver(join(dir.path, 'missing')).inject({ url: '/vms' });
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('npm run build:web');
  });

  it('needs no token in the server (the pages hold no data), while the API still does', async () => {
    const server = await startTestServer();
    try {
      const page = await server.app.inject({ url: '/' });
      // 200 with a built UI, 503 with the build hint without one: never 401.
      expect([200, 503]).toContain(page.statusCode);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      const api = await server.app.inject({ url: '/api/v1/vms' });
      expect(api.statusCode).toBe(401);
      const unknown = await server.app.inject({ url: '/api/v1/nothing', headers: server.auth });
      expect(unknown.json()).toMatchObject({ error: { code: 'ROUTE_NOT_FOUND' } });
    } finally {
      await server.close();
    }
  });
});
