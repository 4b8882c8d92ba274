import {
  API_TOKEN_PREFIX,
  canDelegate,
  hashRefreshToken,
  InvalidTokenError,
  isRole,
  type Principal,
  type RoleBinding,
} from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import type { User } from '@novacron/store';
import type { FastifyRequest } from 'fastify';
import type { ServerDeps } from './deps.js';

/**
 * Paths under /api/v1 that answer without a token (ARCHITECTURE.md §7), for the OpenAPI
 * document. What the server enforces is each route's declared permission (authorization.ts).
 * The event stream and consoles authenticate with their first message: browsers cannot set
 * headers on a WebSocket.
 */
const PUBLIC = new Set(['/api/v1/auth/login', '/api/v1/openapi.json', '/api/v1/events']);
/** The console WebSockets authenticate like the event stream (docs/adr/0012-console.md). */
const CONSOLE_STREAM = /^\/api\/v1\/vms\/[^/]+\/(console|vnc)$/;

/** Whether `path` answers without `Authorization: Bearer`. */
export function isPublicPath(path: string): boolean {
  return !path.startsWith('/api/v1/') || PUBLIC.has(path) || CONSOLE_STREAM.test(path);
}

/** The bindings and cluster role of a stored user, as the policy sees them. */
export async function principalOfUser(
  deps: Pick<ServerDeps, 'store'>,
  user: User,
  extra: Pick<Principal, 'kind' | 'sessionId' | 'tokenId'> = { kind: 'user' },
): Promise<Principal> {
  const global = user.role === 'admin';
  const bindings: RoleBinding[] = [];
  // The cluster admin may do everything anywhere: its bindings would change nothing.
  for (const binding of global ? [] : await deps.store.users.bindings(user.id)) {
    if (isRole(binding.role)) bindings.push({ project: binding.project, role: binding.role });
  }
  return {
    ...extra,
    userId: user.id,
    username: user.username,
    global,
    bindings,
  };
}

/**
 * Who a bearer token speaks for: an API token (`nct_...`, looked up by its hash) or an access
 * token whose session is still open. Throws UNAUTHENTICATED with a reason that names no user.
 */
export async function authenticateToken(
  deps: Pick<ServerDeps, 'store' | 'tokens' | 'clock' | 'principals'>,
  token: string,
): Promise<Principal> {
  return knownCaller(deps, token) ?? resolveCaller(deps, token);
}

/**
 * The caller this token resolved to within the cache's TTL (ADRs 21, 26), by the token's text: no
 * promise and no hash, the path of nearly every request.
 */
function knownCaller(deps: Pick<ServerDeps, 'principals'>, token: string): Principal | undefined {
  return deps.principals?.get(token);
}

async function resolveCaller(
  deps: Pick<ServerDeps, 'store' | 'tokens' | 'clock' | 'principals'>,
  token: string,
): Promise<Principal> {
  const now = deps.clock.now();
  const cache = deps.principals;
  const mark = cache?.mark() ?? 0;
  if (token.startsWith(API_TOKEN_PREFIX)) {
    const stored = await deps.store.apiTokens.getByHash(hashRefreshToken(token));
    if (stored === undefined || stored.revokedAt !== null) {
      throw new DomainError('UNAUTHENTICATED', 'API token invalid or revoked');
    }
    if (Date.parse(stored.expiresAt) <= now.getTime()) {
      throw new DomainError('UNAUTHENTICATED', 'API token expired');
    }
    const user = await deps.store.users.get(stored.userId);
    if (user === undefined || !isRole(stored.role)) {
      throw new DomainError('UNAUTHENTICATED', 'API token invalid or revoked');
    }
    const owner = await principalOfUser(deps, user);
    // A token never does more than its creator may do now.
    if (!canDelegate(owner, stored.project, stored.role)) {
      throw new DomainError('UNAUTHENTICATED', 'API token exceeds its creator’s role');
    }
    // Once per read of the token: its last use is known to the cache's TTL.
    void deps.store.apiTokens.markUsed(stored.id).catch(() => undefined);
    const principal: Principal = {
      kind: 'token',
      tokenId: stored.id,
      userId: user.id,
      username: user.username,
      global: false,
      bindings: [{ project: stored.project, role: stored.role }],
    };
    cache?.set(token, mark, principal, Date.parse(stored.expiresAt));
    return principal;
  }
  let claims;
  try {
    claims = await deps.tokens.verify(token, now);
  } catch (error) {
    if (error instanceof InvalidTokenError) throw new DomainError('UNAUTHENTICATED', error.message);
    throw error;
  }
  // One read for the session and its user; a deleted user's sessions are gone with it.
  const found = await deps.store.sessions.getWithUser(claims.sid);
  if (
    found === undefined ||
    found.session.revokedAt !== null ||
    found.session.userId !== claims.sub ||
    Date.parse(found.session.expiresAt) <= now.getTime()
  ) {
    throw new DomainError('UNAUTHENTICATED', 'session ended: log in again');
  }
  const principal = await principalOfUser(deps, found.user, {
    kind: 'user',
    sessionId: found.session.id,
  });
  // Trusted no longer than the token and its session both last.
  const expiresAt = Math.min(claims.expiresAtMs, Date.parse(found.session.expiresAt));
  cache?.set(token, mark, principal, expiresAt);
  return principal;
}

/**
 * Sets `request.principal` from `Authorization: Bearer`. Every /api/v1 route needs one, and so
 * does any other route that declares a permission other than `public`; WebSockets take theirs
 * in their first message. Returns a promise only when the caller had to be read from the store.
 */
export function authenticator(deps: ServerDeps) {
  return (request: FastifyRequest): Promise<void> | undefined => {
    const { permission, websocket } = request.routeOptions.config;
    if (permission === 'public' || websocket === true) return undefined;
    if (permission === undefined && isPublicPath(request.url.split('?', 1)[0] ?? '')) {
      return undefined;
    }
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
    const token = match?.[1];
    if (token === undefined) {
      throw new DomainError('UNAUTHENTICATED', 'this call needs an Authorization: Bearer token');
    }
    const known = knownCaller(deps, token);
    if (known !== undefined) {
      request.principal = known;
      return undefined;
    }
    return resolveCaller(deps, token).then((principal) => {
      request.principal = principal;
    });
  };
}
