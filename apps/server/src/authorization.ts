import {
  authorize,
  isPermission,
  visibleProjects,
  type Permission,
  type Principal,
} from '@novacron/auth';
import type { Vm } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { DEFAULT_PROJECT } from '@novacron/store';
import type { FastifyRequest, RouteOptions } from 'fastify';
import type { ServerApp, ServerDeps } from './deps.js';

/**
 * Where the project a request acts in comes from (docs/adr/0016-security-model.md):
 * - `vm`, `image`, `operation`: the project of the resource named by the `:id` path parameter;
 * - `project`: the project named by the `:name` path parameter;
 * - `body`: the body's `project` (default `default`), for creations;
 * - `query`: the query's `project` when given; without one, the route lists what the caller sees.
 * Without a scope the route acts on the cluster (hosts, users, the audit log).
 */
export type ResourceScope = 'vm' | 'image' | 'operation' | 'project' | 'body' | 'query';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What the route needs, checked once per request by the authorizer. Every /api/v1 route
     * declares one; `public` for those that answer without a token.
     */
    permission?: Permission;
    scope?: ResourceScope;
    /** The audit action of a mutating route, when its permission does not name it. */
    action?: string;
    /** Set for WebSocket routes: they authenticate with their first message, not a header. */
    websocket?: boolean;
  }
  interface FastifyRequest {
    /** The authenticated caller; set by the authenticator on every non-public route. */
    principal?: Principal;
    /** The project the authorizer checked the request against; null for the cluster. */
    authorizedProject?: string | null;
    /** The VM named by `:id` as the authorizer read it, for routes of scope `vm`. */
    scopedVm?: Vm;
  }
}

/** The principal of a request that passed the authenticator. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) {
    throw new DomainError('UNAUTHENTICATED', 'this call needs an Authorization: Bearer token');
  }
  return request.principal;
}

/**
 * Refuses at startup a /api/v1 route that declares no permission, so none can be added without
 * a policy. Also marks WebSocket routes, which authenticate in their first message.
 */
export function requirePermissions(app: ServerApp): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.wsHandler !== undefined || (route as { websocket?: boolean }).websocket === true) {
      route.config = { ...route.config, websocket: true };
    }
    if (!route.url.startsWith('/api/v1/') && route.url !== '/api/v1') return;
    const permission: unknown = route.config?.permission;
    if (!isPermission(permission)) {
      const methods = Array.isArray(route.method) ? route.method.join(',') : route.method;
      throw new Error(
        `route ${methods} ${route.url} declares no permission: add \`config: { permission: '<one of PERMISSIONS in @novacron/auth>' }\` to its options (\`'public'\` when it needs no token, \`'self'\` when any logged-in caller may use it; add \`scope\` when it acts on a project's resource; see apps/server/src/authorization.ts)`,
      );
    }
  });
}

/** The not-found answer for a resource the caller may not see: the same as for a missing one. */
function notFound(scope: ResourceScope | undefined, key: string): DomainError {
  switch (scope) {
    case 'vm':
      return new DomainError('VM_NOT_FOUND', `VM '${key}' not found`, { vm: key });
    case 'image':
      return new DomainError('IMAGE_NOT_FOUND', `image '${key}' not found`, { image: key });
    case 'operation':
      return new DomainError('OPERATION_NOT_FOUND', `operation '${key}' not found`);
    case 'project':
    case 'body':
    case 'query':
    case undefined:
      return new DomainError('PROJECT_NOT_FOUND', `project '${key}' not found`);
  }
}

function field(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const found = (value as Record<string, unknown>)[key];
  return typeof found === 'string' ? found : undefined;
}

/**
 * The project `request` acts in, per its route's scope; undefined when the resource does not
 * exist. Runs before validation, so it reads parameters defensively.
 */
async function projectOf(
  deps: ServerDeps,
  scope: ResourceScope | undefined,
  request: FastifyRequest,
): Promise<{ project: string | null | undefined; key: string }> {
  const id = field(request.params, 'id') ?? '';
  switch (scope) {
    case undefined:
      return { project: null, key: '' };
    case 'vm': {
      const vm = await (deps.vmCache?.get(id) ?? deps.store.vms.get(undefined, id));
      if (vm !== undefined) request.scopedVm = vm;
      return { project: vm?.project, key: id };
    }
    case 'image':
      return { project: (await deps.store.images.get(DEFAULT_PROJECT, id))?.project, key: id };
    case 'operation': {
      return { project: await deps.store.operations.projectOf(id), key: id };
    }
    case 'project': {
      const name = field(request.params, 'name') ?? '';
      return { project: (await deps.store.projects.get(name))?.name, key: name };
    }
    case 'body': {
      const name = field(request.body, 'project') ?? DEFAULT_PROJECT;
      return { project: name, key: name };
    }
    case 'query': {
      const name = field(request.query, 'project');
      return { project: name ?? null, key: name ?? '' };
    }
  }
}

/**
 * The one place a request is authorized: the route's declared permission, for the project its
 * scope names, through the pure policy. A caller with no role in that project gets the same 404
 * as for a resource that does not exist; one whose role falls short gets 403.
 */
export function authorizer(deps: ServerDeps) {
  return async (request: FastifyRequest): Promise<void> => {
    const { permission, scope, websocket } = request.routeOptions.config;
    // Not found routes and WebSockets (authorized when their auth message comes) pass.
    if (permission === undefined || permission === 'public' || websocket === true) return;
    const principal = principalOf(request);
    const { project, key } = await projectOf(deps, scope, request);
    if (project === undefined) {
      // A resource that does not exist; non-members get exactly this answer too.
      request.authorizedProject = null;
      if (principal.global) return; // the route answers its own not-found
      throw notFound(scope, key);
    }
    // Cluster work (a host drain) belongs to no project: only the cluster admin sees it.
    if (project === null && scope === 'operation' && !principal.global) throw notFound(scope, key);
    const decision = authorize(principal, permission, project);
    if (!decision.allow) {
      if (decision.reason === 'not-member') throw notFound(scope, key);
      throw new DomainError('FORBIDDEN', decision.message, { permission });
    }
    request.authorizedProject = project;
  };
}

/**
 * Checks `principal` for `permission` on a VM outside a request hook (the console WebSocket,
 * after its auth message): VM_NOT_FOUND when it may not see it, FORBIDDEN when it may not act.
 */
export async function authorizeVm(
  deps: ServerDeps,
  principal: Principal,
  permission: Permission,
  idOrName: string,
): Promise<void> {
  const project = (await deps.store.vms.get(undefined, idOrName))?.project;
  if (project === undefined) throw notFound('vm', idOrName);
  const decision = authorize(principal, permission, project);
  if (!decision.allow) {
    if (decision.reason === 'not-member') throw notFound('vm', idOrName);
    throw new DomainError('FORBIDDEN', decision.message, { permission });
  }
}

/**
 * Which stored and live events `principal` may receive on the event stream: those of its
 * projects and of no project (hosts); audit events only for the cluster admin.
 */
export function eventVisibility(
  principal: Principal,
): (event: { type: string; project: string | null }) => boolean {
  if (principal.global) return () => true;
  const projects = new Set(visibleProjects(principal, 'event.read'));
  return (event) =>
    !event.type.startsWith('audit.') && (event.project === null || projects.has(event.project));
}
