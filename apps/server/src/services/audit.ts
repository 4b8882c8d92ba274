import type { Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** One fact for the audit log (see AuditRepository: appended, never changed). */
export interface AuditRecord {
  /** The caller's username, or the one a refused login named; null when unknown. */
  actor: string | null;
  /** Dotted lower-case: `vm.create`, `auth.login`, `auth.lockout`. */
  action: string;
  target?: { type: string; id?: string; name?: string };
  /** Project of the target; null or absent for the cluster. */
  project?: string | null;
  sourceAddress: string;
  /** `success`, or the error code of the refusal. */
  result: string;
  /** Small JSON, never a secret. */
  details?: Record<string, unknown>;
}

/** Appends audit entries; each also goes out as an `audit.recorded` event. */
export class AuditService {
  constructor(
    private readonly store: Store,
    private readonly logger?: Logger,
  ) {}

  async record(entry: AuditRecord): Promise<void> {
    await this.store.audit.append(entry);
  }

  /** Like record, for hooks that must not fail the request: a failure is logged. */
  async recordQuietly(entry: AuditRecord): Promise<void> {
    try {
      await this.record(entry);
    } catch (error) {
      this.logger?.error({ err: error, action: entry.action }, 'audit entry not recorded');
    }
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** `POST /api/v1/auth/login` -> `auth.login`; `DELETE /api/v1/tokens/:id` -> `tokens.delete`. */
export function actionOfRoute(method: string, url: string): string {
  const words = url
    .replace(/^\/api\/v1\//, '')
    .split('/')
    .filter((part) => part !== '' && !part.startsWith(':'));
  const verb: Record<string, string> = { POST: 'create', PUT: 'set', PATCH: 'update' };
  const last = words.at(-1);
  if (method === 'DELETE') return [...words, 'delete'].join('.');
  // `/auth/login`, `/vms/:id/actions`: the path already says what; `/vms` says only where.
  return words.length > 1 || last === undefined
    ? words.join('.')
    : `${last}.${verb[method] ?? method.toLowerCase()}`;
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const found = (value as Record<string, unknown>)[key];
  return typeof found === 'string' && found.length <= 256 ? found : undefined;
}

/**
 * The audit entry of an answered call: every mutating /api/v1 call and every refused token, none
 * for other reads. Taken when the answer is known and before it leaves (request-hooks.ts), so the
 * entry is stored before the caller sees the result.
 */
export function auditEntryOf(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): AuditRecord | undefined {
  if (!MUTATING.has(request.method) && reply.statusCode !== 401) return undefined;
  const path = request.url.split('?', 1)[0] ?? '';
  if (!path.startsWith('/api/v1/')) return undefined;
  const config = request.routeOptions.config;
  const url = request.routeOptions.url ?? path;
  const permission = config.permission;
  const action =
    config.action ??
    (permission !== undefined && permission !== 'public' && permission !== 'self'
      ? permission
      : actionOfRoute(request.method, url));
  const id = stringField(request.params, 'id') ?? stringField(request.params, 'name');
  const name =
    stringField(request.body, 'name') ??
    stringField(request.params, 'username') ??
    stringField(request.body, 'username');
  const target =
    id === undefined && name === undefined
      ? {}
      : {
          target: {
            type: url.replace(/^\/api\/v1\//, '').split('/')[0] ?? '',
            ...(id === undefined ? {} : { id }),
            ...(name === undefined ? {} : { name }),
          },
        };
  return {
    actor: request.principal?.username ?? stringField(request.body, 'username') ?? null,
    action,
    ...target,
    // A cluster route may still act on one project (a user's role there): it is recorded too.
    project: request.authorizedProject ?? stringField(request.params, 'project') ?? null,
    sourceAddress: request.ip,
    result:
      reply.statusCode < 400 ? 'success' : (errorCodeOf(payload) ?? `HTTP_${reply.statusCode}`),
    details: {
      method: request.method,
      route: url,
      status: reply.statusCode,
      ...(request.principal?.kind === 'token' ? { tokenId: request.principal.tokenId } : {}),
    },
  };
}

function errorCodeOf(payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined;
  try {
    const body = JSON.parse(payload) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code : undefined;
  } catch {
    return undefined; // not an error body: the status says enough
  }
}
