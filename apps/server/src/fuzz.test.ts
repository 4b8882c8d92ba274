import { ERROR_CODES, type Operation } from '@novacron/api';
import fc from 'fast-check';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordedRoutes, type RouteRecord } from './openapi.js';
import { startTestServer, type TestServer } from './testing.js';

// Bad input, for every /api/v1 route: invalid bodies, path parameters, query strings and headers
// derived from the route's own schemas. Each must get a 4xx with a known error code, never a 5xx,
// and leave what is stored as it was.

type Schema = Record<string, unknown>;
type Request = {
  method: string;
  url: string;
  headers?: Record<string, string>;
  payload?: string;
};

/** Runs per route and input kind; fast-check prints the seed of a failure, to replay it. */
const RUNS = 40;
const BODY_LIMIT = 16 * 1024;

let server: TestServer;
let routes: RouteRecord[];
/** Routes that answer without a token: no authorization to fuzz. */
const publicRoutes = new Set<RouteRecord>();

beforeAll(async () => {
  server = await startTestServer({ limits: { bodyLimit: BODY_LIMIT } });
  // Something to aim at: fuzzed requests name this VM, its host and its operation.
  const created = await server.app.inject({
    method: 'POST',
    url: '/api/v1/vms',
    headers: server.auth,
    payload: { name: 'seed', image: 'tiny', labels: { tier: 'web' } },
  });
  await server.operations.wait(created.json<Operation>().id, 5000);
  routes = recordedRoutes(server.app).filter(
    (route) => route.url.startsWith('/api/v1/') && !route.websocket,
  );
  for (const route of routes) {
    const response = await server.app.inject({
      method: route.method as 'GET',
      url: fillPath(route.url, () => 'seed'),
    });
    if (response.statusCode !== 401) publicRoutes.add(route);
  }
}, 30_000);

afterAll(async () => {
  await server.close();
});

async function snapshot() {
  const { store } = server;
  return {
    vms: await store.vms.list({ limit: 1000 }),
    hosts: await store.hosts.list(),
    images: await store.images.list('default'),
    operations: await store.operations.list({ limit: 1000 }),
  };
}

/** Sends one bad request and checks the answer and that nothing stored moved. */
async function expectRefused(request: Request): Promise<void> {
  const before = await snapshot();
  const response = await server.app.inject({
    method: request.method as 'GET',
    url: request.url,
    headers: request.headers ?? server.auth,
    ...(request.payload === undefined ? {} : { payload: request.payload }),
  });
  const what = `${request.method} ${request.url} ${request.payload?.slice(0, 200) ?? ''}`;
  expect(response.statusCode, what).toBeGreaterThanOrEqual(400);
  expect(response.statusCode, `${what} -> ${response.body.slice(0, 300)}`).toBeLessThan(500);
  const code = response.json<{ error?: { code?: string } }>().error?.code ?? '';
  expect(ERROR_CODES, `${what} -> ${response.body.slice(0, 300)}`).toContain(code);
  expect(await snapshot(), what).toEqual(before);
}

function fillPath(url: string, value: (name: string) => string): string {
  return url.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(value(name)));
}

function jsonBody(value: unknown): Request['payload'] {
  return JSON.stringify(value);
}

function jsonHeaders(): Record<string, string> {
  return { ...server.auth, 'content-type': 'application/json' };
}

// --- Schema-derived values -------------------------------------------------------------------

function props(schema: Schema): Record<string, Schema> {
  return (schema.properties ?? {}) as Record<string, Schema>;
}

/** The non-null branch of `T | null`, else the schema itself. */
function nonNull(schema: Schema): Schema {
  if (!Array.isArray(schema.anyOf)) return schema;
  const branches = (schema.anyOf as Schema[]).filter((s) => s.type !== 'null');
  return branches.length === 1 && branches[0] !== undefined ? branches[0] : schema;
}

function enumValues(schema: Schema): unknown[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum as unknown[];
  if (Array.isArray(schema.anyOf) && (schema.anyOf as Schema[]).every((s) => 'const' in s)) {
    return (schema.anyOf as Schema[]).map((s) => s.const);
  }
  return undefined;
}

const SAMPLES = ['seed', 'tiny', 'h1', 'a', 'demo', 'tier=web', 'console=ttyS0'];

/** A plausible valid value, so that one bad field is what a request gets wrong. */
function sample(schema: Schema): unknown {
  const s = nonNull(schema);
  const values = enumValues(s);
  if (values !== undefined) return values[0];
  if ('const' in s) return s.const;
  switch (s.type) {
    case 'string': {
      const pattern = typeof s.pattern === 'string' ? new RegExp(s.pattern, 'u') : undefined;
      return SAMPLES.find((c) => pattern === undefined || pattern.test(c)) ?? 'a';
    }
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object': {
      const required = (s.required ?? []) as string[];
      return Object.fromEntries(required.map((key) => [key, sample(props(s)[key] ?? {})]));
    }
    default:
      return null;
  }
}

const notJsonString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant([]),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

/** Strings with at least one character outside `[A-Za-z0-9_-]`. */
const unsafeString = fc
  .tuple(
    fc.string({ maxLength: 10 }),
    fc.constantFrom(' ', '/', '..', ';', '$(id)', '%', '\u00e9', '\u0000', '\n', '"', '*', '='),
    fc.string({ maxLength: 10 }),
  )
  .map(([a, b, c]) => `${a}${b}${c}`);

/** JSON values that the (non-null part of the) schema refuses: wrong types, bounds, patterns. */
function invalidJson(schema: Schema): fc.Arbitrary<unknown> {
  const s = nonNull(schema);
  const values = enumValues(s);
  if (values !== undefined) {
    return fc.oneof(
      fc.string().filter((v) => !values.includes(v)),
      fc.integer(),
      fc.boolean(),
    );
  }
  const options: fc.Arbitrary<unknown>[] = [];
  switch (s.type) {
    case 'string': {
      options.push(notJsonString);
      if (typeof s.maxLength === 'number') {
        options.push(fc.string({ minLength: s.maxLength + 1, maxLength: s.maxLength + 40 }));
      }
      if (typeof s.minLength === 'number' && s.minLength > 0) options.push(fc.constant(''));
      if (typeof s.pattern === 'string') {
        const pattern = new RegExp(s.pattern, 'u');
        options.push(unsafeString.filter((v) => !pattern.test(v)));
      }
      break;
    }
    case 'integer':
    case 'number': {
      options.push(fc.string({ maxLength: 8 }), fc.boolean(), fc.constant([1]));
      if (s.type === 'integer') options.push(fc.double({ noInteger: true, noNaN: true }));
      if (typeof s.minimum === 'number') options.push(fc.integer({ max: s.minimum - 1 }));
      if (typeof s.maximum === 'number') {
        // fc.integer stays within 32 bits; a larger bound gets its first value past it.
        options.push(
          s.maximum < 2 ** 31 - 1 ? fc.integer({ min: s.maximum + 1 }) : fc.constant(s.maximum + 1),
        );
      }
      break;
    }
    case 'boolean':
      options.push(fc.integer(), fc.constantFrom('true', 'yes', ''), fc.constant({}));
      break;
    case 'array':
      options.push(fc.string(), fc.integer(), fc.constant({}));
      break;
    case 'object': {
      options.push(fc.string(), fc.integer(), fc.constant([]));
      const names = s.propertyNames as Schema | undefined;
      if (typeof names?.maxLength === 'number') {
        const long = 'k'.repeat(names.maxLength + 1);
        options.push(fc.constant({ [long]: 'v' }));
      }
      if (typeof names?.minLength === 'number' && names.minLength > 0) {
        options.push(fc.constant({ '': 'v' }));
      }
      if (typeof s.maxProperties === 'number') {
        const many = Object.fromEntries(
          Array.from({ length: s.maxProperties + 1 }, (_, i) => [`k${i}`, 'v']),
        );
        options.push(fc.constant(many));
      }
      const values = (s.patternProperties as Record<string, Schema> | undefined)?.['^.*$'];
      if (values !== undefined) {
        options.push(invalidJson(values).map((value) => ({ key: value })));
      }
      break;
    }
    default:
      options.push(fc.constant(Symbol('unrepresentable')));
  }
  return fc.oneof(...options);
}

/** Query or path text that the schema refuses even after type coercion. */
function invalidText(schema: Schema): fc.Arbitrary<string> {
  const s = nonNull(schema);
  const values = enumValues(s);
  if (values !== undefined) return fc.string({ maxLength: 12 }).map((v) => `x${v}`);
  switch (s.type) {
    case 'integer':
    case 'number': {
      const options = [fc.string({ maxLength: 8 }).map((v) => `x${v}`), fc.constant('1.5')];
      if (typeof s.minimum === 'number') {
        options.push(fc.integer({ min: -1e6, max: s.minimum - 1 }).map(String));
      }
      if (typeof s.maximum === 'number') {
        options.push(fc.integer({ min: s.maximum + 1, max: s.maximum + 1e9 }).map(String));
      }
      return fc.oneof(...options);
    }
    case 'boolean':
      return fc.string({ maxLength: 8 }).map((v) => `x${v}`);
    case 'array':
      return invalidText((s.items ?? {}) as Schema);
    case 'string': {
      const options: fc.Arbitrary<string>[] = [];
      if (typeof s.maxLength === 'number') {
        options.push(fc.nat(40).map((n) => 'a'.repeat((s.maxLength as number) + 1 + n)));
      }
      if (typeof s.pattern === 'string') {
        const pattern = new RegExp(s.pattern, 'u');
        options.push(unsafeString.filter((v) => !pattern.test(v)));
      }
      return options.length > 0 ? fc.oneof(...options) : fc.constant('\u0000'.repeat(0));
    }
    default:
      return fc.constant('');
  }
}

/** Query properties whose refusal is certain (a free string without bounds takes anything). */
function fuzzableQuery(schema: Schema): [string, Schema][] {
  return Object.entries(props(schema)).filter(([, property]) => {
    const s = nonNull(property);
    const inner = s.type === 'array' ? ((s.items ?? {}) as Schema) : s;
    return (
      enumValues(inner) !== undefined ||
      inner.type !== 'string' ||
      typeof inner.pattern === 'string' ||
      typeof inner.maxLength === 'number'
    );
  });
}

// --- The properties --------------------------------------------------------------------------

describe('every /api/v1 route refuses bad input with a 4xx, a known code, and no change', () => {
  it('covers the routes it should', () => {
    const names = routes.map((route) => `${route.method} ${route.url}`);
    for (const expected of [
      'POST /api/v1/vms',
      'PATCH /api/v1/vms/:id',
      'GET /api/v1/vms',
      'PATCH /api/v1/hosts/:id',
      'GET /api/v1/operations',
      'DELETE /api/v1/operations/:id',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it('bodies', { timeout: 30_000 }, async () => {
    for (const route of routes) {
      const schema = route.schema?.body as Schema | undefined;
      if (schema === undefined) continue;
      const check = Compile(schema as unknown as TSchema);
      const base = sample(schema) as Record<string, unknown>;
      const url = fillPath(route.url, () => 'seed');
      const mutations: fc.Arbitrary<unknown>[] = [
        notJsonString,
        fc.constant(null),
        // An unknown field.
        fc.string({ minLength: 1, maxLength: 8 }).map((key) => ({ ...base, [`x-${key}`]: 1 })),
        // One field wrong.
        ...Object.entries(props(schema)).map(([key, property]) =>
          invalidJson(property).map((value) => ({ ...base, [key]: value })),
        ),
        // A required field missing.
        ...((schema.required ?? []) as string[]).map((key) =>
          fc.constant(Object.fromEntries(Object.entries(base).filter(([k]) => k !== key))),
        ),
      ];
      await fc.assert(
        fc.asyncProperty(fc.oneof(...mutations), async (body) => {
          const payload = jsonBody(body);
          fc.pre(payload !== undefined && !check.Check(JSON.parse(payload)));
          await expectRefused({ method: route.method, url, headers: jsonHeaders(), payload });
        }),
        { numRuns: RUNS * 2 },
      );
      // Not JSON at all, or not what it claims to be.
      for (const [type, payload] of [
        ['application/json', '{"name":'],
        ['application/json', '\u0000\u00ff'],
        ['text/plain', JSON.stringify(base)],
        ['application/x-www-form-urlencoded', 'name=a&image=tiny'],
      ] as const) {
        await expectRefused({
          method: route.method,
          url,
          headers: { ...server.auth, 'content-type': type },
          payload,
        });
      }
    }
  });

  it('path parameters', { timeout: 30_000 }, async () => {
    for (const route of routes) {
      const params = route.schema?.params as Schema | undefined;
      if (params === undefined) continue;
      const [[name, property] = ['', {}]] = Object.entries(props(params));
      const body = route.schema?.body as Schema | undefined;
      await fc.assert(
        fc.asyncProperty(invalidText(property), async (value) => {
          await expectRefused({
            method: route.method,
            url: fillPath(route.url, (param) => (param === name ? value : 'seed')),
            headers: body === undefined ? server.auth : jsonHeaders(),
            ...(body === undefined ? {} : { payload: jsonBody(sample(body)) }),
          });
        }),
        { numRuns: RUNS },
      );
    }
  });

  it('query strings', { timeout: 30_000 }, async () => {
    for (const route of routes) {
      const query = route.schema?.querystring as Schema | undefined;
      if (query === undefined) continue;
      const fields = fuzzableQuery(query);
      if (fields.length === 0) continue;
      const arbitrary = fc.oneof(
        ...fields.map(([key, property]) =>
          invalidText(property).map((value) => [key, value] as const),
        ),
      );
      await fc.assert(
        fc.asyncProperty(arbitrary, async ([key, value]) => {
          const search = new URLSearchParams({ [key]: value });
          await expectRefused({
            method: route.method,
            url: `${fillPath(route.url, () => 'seed')}?${search.toString()}`,
          });
        }),
        { numRuns: RUNS },
      );
    }
  });

  it('authorization headers', { timeout: 30_000 }, async () => {
    const token = server.auth.authorization.slice('Bearer '.length);
    const forged = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom('', 'Bearer', 'Bearer ', 'Basic YWRtaW46cHc=', `bearer ${token}`),
      fc.string({ maxLength: 40 }).map((v) => `Bearer ${v}`),
      // The real token with one character changed (not the last: its low bits are padding).
      fc
        .tuple(fc.nat(token.length - 2), fc.constantFrom('A', 'b', '-', '_', '.'))
        .filter(([at, c]) => token[at] !== c)
        .map(([at, c]) => `Bearer ${token.slice(0, at)}${c}${token.slice(at + 1)}`),
    );
    for (const route of routes) {
      if (publicRoutes.has(route)) continue;
      const body = route.schema?.body as Schema | undefined;
      await fc.assert(
        fc.asyncProperty(forged, async (authorization) => {
          await expectRefused({
            method: route.method,
            url: fillPath(route.url, () => 'seed'),
            headers: {
              ...(authorization === undefined ? {} : { authorization }),
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            ...(body === undefined ? {} : { payload: jsonBody(sample(body)) }),
          });
        }),
        { numRuns: RUNS },
      );
    }
  });

  it('oversized bodies get 413 PAYLOAD_TOO_LARGE', async () => {
    for (const route of routes) {
      if (route.schema?.body === undefined) continue;
      const before = await snapshot();
      const response = await server.app.inject({
        method: route.method as 'POST',
        url: fillPath(route.url, () => 'seed'),
        headers: jsonHeaders(),
        payload: JSON.stringify({ name: 'x', padding: 'x'.repeat(BODY_LIMIT) }),
      });
      expect(response.statusCode, route.url).toBe(413);
      expect(response.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
      expect(await snapshot()).toEqual(before);
    }
  });
});
