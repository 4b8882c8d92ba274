import { InvalidTokenError } from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import type { FastifyRequest } from 'fastify';
import type { ServerDeps } from './deps.js';

/**
 * Routes under /api/v1 that answer without a token (ARCHITECTURE.md §7). The event stream
 * authenticates with its first message instead: browsers cannot set headers on a WebSocket.
 */
const PUBLIC = new Set(['/api/v1/auth/login', '/api/v1/openapi.json', '/api/v1/events']);
/** The console WebSockets authenticate like the event stream (docs/adr/0012-console.md). */
const CONSOLE_STREAM = /^\/api\/v1\/vms\/[^/]+\/(console|vnc)$/;

/** Whether `path` answers without `Authorization: Bearer`. */
export function isPublicPath(path: string): boolean {
  return !path.startsWith('/api/v1/') || PUBLIC.has(path) || CONSOLE_STREAM.test(path);
}

/** Every /api/v1 route needs `Authorization: Bearer <token>`; the rest of the site is public. */
export function authenticator(deps: ServerDeps) {
  return async (request: FastifyRequest): Promise<void> => {
    const path = request.url.split('?', 1)[0] ?? '';
    if (isPublicPath(path)) return;
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
    if (match?.[1] === undefined) {
      throw new DomainError('UNAUTHENTICATED', 'this call needs an Authorization: Bearer token');
    }
    try {
      await deps.tokens.verify(match[1], deps.clock.now());
    } catch (error) {
      if (error instanceof InvalidTokenError)
        throw new DomainError('UNAUTHENTICATED', error.message);
      throw error;
    }
  };
}
