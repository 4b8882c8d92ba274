import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AccessTokens, newSigningSecret } from '@novacron/auth';
import { openSqliteTestStore, systemClock, type TestStore } from '@novacron/store';
import { createLogger } from '@novacron/telemetry';
import prettier from 'prettier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.js';
import type { ServerApp } from './deps.js';
import type { OpenApiDocument } from './openapi.js';
import { renderApiReference } from './openapi-markdown.js';
import { HostService } from './services/hosts.js';
import { OperationRunner } from './services/operations.js';
import { VmService } from './services/vms.js';
import { ImageService } from './services/images.js';

let testStore: TestStore;
let operations: OperationRunner;
let app: ServerApp;
let document: OpenApiDocument;

beforeAll(async () => {
  testStore = await openSqliteTestStore();
  const { store } = testStore;
  const logger = createLogger({ level: 'silent' });
  const hosts = new HostService(store, systemClock, logger);
  operations = new OperationRunner(store, systemClock, logger);
  const vms = new VmService(store, hosts, operations);
  const tokens = new AccessTokens(newSigningSecret());
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
  const response = await app.inject({ url: '/api/v1/openapi.json' });
  expect(response.statusCode).toBe(200);
  document = response.json<OpenApiDocument>();
});

afterAll(async () => {
  await app.close();
  await operations.close();
  await testStore.cleanup();
});

/** Method and path of every route Fastify's router holds, read from its own route listing. */
function routerRoutes(): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (match === null) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(match[2] ?? '');
    for (const method of (match[3] ?? '').split(', ').filter((m) => m !== '' && m !== 'HEAD')) {
      routes.push({ method, path: stack.join('') });
    }
  }
  return routes;
}

function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) =>
    key === '$ref' && typeof child === 'string' ? [child] : refsIn(child),
  );
}

describe('the OpenAPI document', () => {
  it('lists every registered /api/v1 route, and only those', () => {
    const registered = routerRoutes().filter((route) => route.path.startsWith('/api/v1/'));
    expect(registered.length).toBeGreaterThan(10);
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => ({
        method: method.toUpperCase(),
        path: path.replace(/\{(\w+)\}/g, ':$1'),
      })),
    );
    const key = (route: { method: string; path: string }) => `${route.method} ${route.path}`;
    expect(
      documented
        .filter((r) => r.path.startsWith('/api/v1/'))
        .map(key)
        .sort(),
    ).toEqual(registered.map(key).sort());
    for (const path of ['/healthz', '/readyz', '/api/docs'])
      expect(document.paths).toHaveProperty([path]);
  });

  it('has the shape of OpenAPI 3.1: info, paths, components, and refs that resolve', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toMatchObject({
      title: 'NovaCron API',
      version: expect.any(String) as unknown,
    });
    expect(document.components.securitySchemes.bearer).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    expect(document.security).toEqual([{ bearer: [] }]);
    const tagNames = document.tags.map((tag) => tag.name);
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(document.paths)) {
      expect(path).toMatch(/^\/[^:]*$/);
      for (const [method, operation] of Object.entries(item)) {
        expect(['get', 'put', 'post', 'delete', 'patch']).toContain(method);
        expect(operation.responses).toHaveProperty('default');
        expect(Object.keys(operation.responses).length).toBeGreaterThan(1);
        expect(operation.tags.every((tag) => tagNames.includes(tag))).toBe(true);
        expect(operationIds.has(operation.operationId)).toBe(false);
        operationIds.add(operation.operationId);
        // Every {name} in the path is a required path parameter, and the other way round.
        const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        const pathParams = (operation.parameters ?? []).filter((p) => p.in === 'path');
        expect(pathParams.map((p) => p.name).sort()).toEqual(inPath.sort());
        expect(pathParams.every((p) => p.required)).toBe(true);
      }
    }
    for (const ref of refsIn(document)) {
      expect(ref).toMatch(/^#\/components\/schemas\/\w+$/);
      expect(document.components.schemas).toHaveProperty([ref.split('/').pop() ?? '']);
    }
    // TypeBox's own markers are not JSON Schema.
    expect(JSON.stringify(document)).not.toMatch(/"~/);
  });

  it('marks public routes, documents bodies, errors and tags by resource', () => {
    const paths = document.paths;
    expect(paths['/api/v1/auth/login']?.post?.security).toEqual([]);
    expect(paths['/healthz']?.get?.security).toEqual([]);
    expect(paths['/api/v1/openapi.json']?.get?.security).toEqual([]);
    const create = paths['/api/v1/vms']?.post;
    expect(create?.security).toBeUndefined();
    expect(create?.tags).toEqual(['vms']);
    expect(create?.requestBody?.content['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/VmCreate',
    });
    expect(create?.responses['202']?.content?.['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/Operation',
    });
    expect(create?.responses['401']?.content?.['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/ErrorBody',
    });
    expect(document.components.schemas.VmCreate).toMatchObject({ type: 'object' });
    expect(paths['/api/v1/vms/{id}/console/output']?.get?.responses['200']?.content).toHaveProperty(
      ['text/plain'],
    );
    const events = paths['/api/v1/events']?.get;
    expect(events?.tags).toEqual(['events']);
    expect(events?.responses).toHaveProperty(['101']);
    expect(events?.parameters?.map((p) => p.name).sort()).toEqual(['project', 'since', 'types']);
  });

  it('is public, and so is the reference page, which needs nothing from elsewhere', async () => {
    const page = await app.inject({ url: '/api/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    // Only the page's own inline script runs: the policy names its hash.
    const script = /<script>([\s\S]*?)<\/script>/.exec(page.body)?.[1] ?? '';
    const hash = createHash('sha256').update(script).digest('base64');
    expect(page.headers['content-security-policy']).toContain(`script-src 'sha256-${hash}'`);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(page.body).not.toMatch(/<script[^>]*\bsrc=|<link\b|@import|url\(|fetch\(/);
    expect(page.body).toContain('"openapi":"3.1.0"');
  });

  it('matches docs/reference/api.md (run `npm run docs` after changing a route)', async () => {
    const path = fileURLToPath(new URL('../../../docs/reference/api.md', import.meta.url));
    const options = (await prettier.resolveConfig(path)) ?? {};
    const expected = await prettier.format(renderApiReference(document), {
      ...options,
      filepath: path,
    });
    expect(await readFile(path, 'utf8')).toBe(expected);
  });
});
