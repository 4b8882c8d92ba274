import * as api from '@novacron/api';
import type { RouteOptions } from 'fastify';
import type { ServerApp } from './deps.js';

declare module 'fastify' {
  // What a route may add to its schema for the OpenAPI document (as @fastify/swagger reads it).
  interface FastifySchema {
    summary?: string;
    description?: string;
    operationId?: string;
    tags?: readonly string[];
  }
}

/** One registered route, as the onRoute hook saw it. */
export interface RouteRecord {
  method: string;
  url: string;
  schema: RouteOptions['schema'];
  websocket: boolean;
  /** The permission the route declares (authorization.ts); `public` needs no token. */
  permission?: string;
  /** Where the project it acts in comes from (authorization.ts). */
  scope?: string;
}

export type JsonSchema = Record<string, unknown>;

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security?: Record<string, string[]>[];
  parameters?: {
    name: string;
    in: 'path' | 'query' | 'header';
    required: boolean;
    description?: string;
    schema: JsonSchema;
  }[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<
    string,
    { description: string; content?: Record<string, { schema: JsonSchema }> }
  >;
}

/** An OpenAPI 3.1 document, as far as NovaCron writes one. */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, Record<string, string>>;
  };
  security: Record<string, string[]>[];
}

export interface OpenApiOptions {
  version: string;
  /** Whether a path answers without a token. */
  isPublic: (path: string) => boolean;
}

const catalogs = new WeakMap<object, RouteRecord[]>();

/**
 * Records every route registered on `app` from now on; call before the routes are declared.
 * The OpenAPI document is generated from this record, so it cannot miss a route.
 */
export function recordRoutes(app: ServerApp): void {
  const routes: RouteRecord[] = [];
  catalogs.set(app, routes);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      // Fastify adds HEAD beside each GET by itself.
      if (method === 'HEAD') continue;
      routes.push({
        method,
        url: route.url,
        schema: route.schema,
        websocket: route.websocket === true || route.wsHandler !== undefined,
        ...(typeof route.config?.permission === 'string'
          ? { permission: route.config.permission }
          : {}),
        ...(typeof route.config?.scope === 'string' ? { scope: route.config.scope } : {}),
      });
    }
  });
}

/** The routes recorded on `app` (see recordRoutes). */
export function recordedRoutes(app: ServerApp): readonly RouteRecord[] {
  return catalogs.get(app) ?? [];
}

const TAGS: Record<string, string> = {
  auth: 'Login and tokens',
  vms: 'Virtual machines: create, list, change, act on, delete',
  hosts: 'Hypervisor hosts and their agents',
  images: 'Boot images kept by the server',
  operations: 'Long-running work: follow, wait for, cancel',
  events: 'The event stream (WebSocket)',
  docs: 'This document and its reference page',
  health: 'Liveness and readiness probes',
};

/** The first path segment after /api/v1 names the resource; the rest is health or docs. */
function tagOf(url: string): string {
  if (url === '/api/docs' || url === '/api/v1/openapi.json') return 'docs';
  const match = /^\/api\/v1\/([a-z0-9-]+)/.exec(url);
  return match?.[1] ?? 'health';
}

/** `/api/v1/vms/:id/actions` -> `/api/v1/vms/{id}/actions`. */
function openApiPath(url: string): string {
  return url.replace(/:(\w+)/g, '{$1}');
}

/** A summary for a route that gives none, from REST conventions: `List vms`, `Get a vm`. */
function defaultSummary(method: string, url: string): string {
  const parts = url.replace(/^\/api\/v1\//, '').split('/');
  const [resource = '', id, ...rest] = parts;
  const singular = resource.replace(/s$/, '');
  const a = /^[aeiou]/.test(singular) ? 'an' : 'a';
  if (url.startsWith('/api/v1/') && id === undefined) {
    if (method === 'GET') return `List ${resource}`;
    if (method === 'POST') return `Create ${a} ${singular}`;
  }
  if (url.startsWith('/api/v1/') && id?.startsWith(':') === true) {
    if (rest.length === 0) {
      const verbs: Record<string, string> = {
        GET: 'Get',
        PUT: 'Replace',
        PATCH: 'Change',
        DELETE: 'Delete',
      };
      if (verbs[method] !== undefined) return `${verbs[method]} ${a} ${singular}`;
    }
    return `${method} ${singular} ${rest.join(' ')}`;
  }
  return `${method} ${openApiPath(url)}`;
}

function operationIdOf(method: string, url: string): string {
  const words = url
    .replace(/^\/api\/v1\//, '/')
    .split(/[/.-]/)
    .filter((part) => part !== '')
    .map((part) => (part.startsWith(':') ? `by-${part.slice(1)}` : part))
    .flatMap((part) => part.split('-'));
  return [method.toLowerCase(), ...words.map((w) => w.charAt(0).toUpperCase() + w.slice(1))].join(
    '',
  );
}

/**
 * Names for the api package's exported schemas, by identity: where a route's schema reuses one,
 * the document refers to a component instead of repeating it. Plain strings and numbers stay
 * inline, where their pattern and bounds read best.
 */
function namedSchemas(): Map<object, string> {
  const names = new Map<object, string>();
  for (const [name, value] of Object.entries(api)) {
    if (!/^[A-Z][A-Za-z]+$/.test(name) || typeof value !== 'object' || value === null) continue;
    const schema = value as JsonSchema;
    const composite =
      schema.type === 'object' || 'anyOf' in schema || 'enum' in schema || 'oneOf' in schema;
    if (composite && !names.has(value)) names.set(value, name);
  }
  return names;
}

class SchemaWriter {
  readonly components: Record<string, JsonSchema> = {};
  readonly #names = namedSchemas();

  /** A plain JSON copy of a TypeBox schema, with named schemas as `$ref`s to components. */
  write(schema: unknown): JsonSchema {
    return this.#convert(schema) as JsonSchema;
  }

  #convert(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.#convert(item));
    if (typeof value !== 'object' || value === null) return value;
    const name = this.#names.get(value);
    if (name !== undefined) {
      if (!(name in this.components)) {
        // Placeholder first: a schema that contains itself must not recurse forever.
        this.components[name] = {};
        this.components[name] = this.#copy(value);
      }
      return { $ref: `#/components/schemas/${name}` };
    }
    return this.#copy(value);
  }

  #copy(value: object): JsonSchema {
    const out: JsonSchema = {};
    // TypeBox keeps its own markers in non-enumerable and `~` keys: JSON Schema has no use for them.
    for (const [key, child] of Object.entries(value)) {
      if (key.startsWith('~')) continue;
      out[key] = this.#convert(child);
    }
    return out;
  }

  /** A component for a named schema even when no route refers to it (the error body). */
  ref(name: string, schema: unknown): JsonSchema {
    this.components[name] ??= this.#copy(schema as object);
    return { $ref: `#/components/schemas/${name}` };
  }
}

function parametersOf(
  writer: SchemaWriter,
  schema: unknown,
  where: 'path' | 'query' | 'header',
): NonNullable<OpenApiOperation['parameters']> {
  if (typeof schema !== 'object' || schema === null) return [];
  const { properties, required } = schema as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(properties ?? {}).map(([name, property]) => {
    const written = writer.write(property);
    const description =
      typeof written.description === 'string' ? { description: written.description } : {};
    return {
      name,
      in: where,
      required: where === 'path' || (required ?? []).includes(name),
      ...description,
      schema: written,
    };
  });
}

function statusText(status: string): string {
  const texts: Record<string, string> = {
    '101': 'Switching Protocols: the WebSocket is open',
    '200': 'OK',
    '201': 'Created',
    '202': 'Accepted: the operation doing the work',
    '204': 'No Content',
  };
  return texts[status] ?? `HTTP ${status}`;
}

function responseContent(writer: SchemaWriter, schema: unknown) {
  const written = writer.write(schema);
  // Routes that answer text (console output, HTML) declare a string schema.
  const type =
    written.type !== 'string'
      ? 'application/json'
      : typeof written.contentMediaType === 'string'
        ? written.contentMediaType
        : 'text/plain';
  return { [type]: { schema: written } };
}

/** The OpenAPI 3.1 document of the recorded routes: one operation per method and path. */
export function buildOpenApiDocument(
  routes: readonly RouteRecord[],
  options: OpenApiOptions,
): OpenApiDocument {
  const writer = new SchemaWriter();
  const errorRef = writer.ref('ErrorBody', api.ErrorBody);
  // The event stream's frames: no route schema names them, its description points here.
  writer.ref('Event', api.Event);
  writer.ref('EventStreamClientMessage', api.EventStreamClientMessage);
  writer.ref('EventStreamServerMessage', api.EventStreamServerMessage);
  const paths: OpenApiDocument['paths'] = {};
  const usedTags = new Set<string>();

  const sorted = [...routes].sort(
    (a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method),
  );
  for (const route of sorted) {
    // Catch-alls and Fastify's own routes are not part of the API.
    if (route.url.includes('*')) continue;
    const schema = route.schema ?? {};
    // A WebSocket takes its token in its first message (see its description), not as a header.
    const isPublic =
      !route.websocket &&
      (route.permission === undefined
        ? options.isPublic(route.url)
        : route.permission === 'public');
    const tag = schema.tags?.[0] ?? tagOf(route.url);
    usedTags.add(tag);

    const parameters = [
      ...parametersOf(writer, schema.params, 'path'),
      ...parametersOf(writer, schema.querystring, 'query'),
      ...parametersOf(writer, schema.headers, 'header'),
    ];
    const responses: OpenApiOperation['responses'] = {};
    if (route.websocket) responses['101'] = { description: statusText('101') };
    const declared = (schema.response ?? {}) as Record<string, unknown>;
    for (const [declaredStatus, responseSchema] of Object.entries(declared)) {
      // Fastify takes `4xx`; OpenAPI spells ranges `4XX`.
      const status = declaredStatus.toUpperCase();
      responses[status] = {
        description: statusText(status),
        content: responseContent(writer, responseSchema),
      };
    }
    const errorResponse = (description: string) => ({
      description,
      content: { 'application/json': { schema: errorRef } },
    });
    if (parameters.length > 0 || schema.body !== undefined) {
      responses['400'] ??= errorResponse('VALIDATION_FAILED: the request does not fit the schema');
    }
    if (!isPublic && !route.websocket)
      responses['401'] ??= errorResponse('UNAUTHENTICATED: no token, or an invalid one');
    if (/:\w+/.test(route.url))
      responses['404'] ??= errorResponse('not found (the code names what)');
    responses.default = errorResponse('any other error, with a stable code');

    const operation: OpenApiOperation = {
      operationId: schema.operationId ?? operationIdOf(route.method, route.url),
      summary: schema.summary ?? defaultSummary(route.method, route.url),
      ...(schema.description === undefined ? {} : { description: schema.description }),
      tags: [tag],
      ...(isPublic ? { security: [] } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(schema.body === undefined
        ? {}
        : {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: writer.write(schema.body) } },
            },
          }),
      responses,
    };
    (paths[openApiPath(route.url)] ??= {})[route.method.toLowerCase()] = operation;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'NovaCron API',
      version: options.version,
      description:
        'REST API of the NovaCron control plane. Every call needs `Authorization: Bearer <access token>` from `POST /api/v1/auth/login`, except those marked public. Errors are `{ "error": { "code", "message", "details", "requestId" } }` with a stable `code`.',
    },
    tags: [...usedTags]
      .sort((a, b) => tagOrder(a) - tagOrder(b) || a.localeCompare(b))
      .map((name) => ({ name, description: TAGS[name] ?? name })),
    paths,
    components: {
      schemas: Object.fromEntries(
        Object.entries(writer.components).sort(([a], [b]) => a.localeCompare(b)),
      ),
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An access token from POST /api/v1/auth/login.',
        },
      },
    },
    security: [{ bearer: [] }],
  };
}

function tagOrder(tag: string): number {
  const index = Object.keys(TAGS).indexOf(tag);
  return index === -1 ? Object.keys(TAGS).length : index;
}
