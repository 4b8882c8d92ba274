import { DomainError } from '@novacron/domain';
import type { ServerMetricsRegistry } from '@novacron/telemetry';
import type { FastifyReply, FastifyRequest } from 'fastify';

const TOKEN_PARAMETERS = ['token', 'access_token'];

/**
 * Refuses a token in the query string on any HTTP route (TOKEN_IN_URL): URLs end up in access
 * logs, proxies and browser history. WebSocket upgrades pass: their routes refuse it with a close
 * code and an error frame, which a browser can read where it cannot read a failed handshake.
 */
export function refuseTokenInUrl(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: (error?: Error) => void,
): void {
  const query = request.url.indexOf('?');
  if (query < 0 || request.headers.upgrade?.toLowerCase() === 'websocket') return done();
  const params = new URLSearchParams(request.url.slice(query + 1));
  const named = TOKEN_PARAMETERS.find((name) => params.has(name));
  if (named === undefined) return done();
  done(
    new DomainError(
      'TOKEN_IN_URL',
      `a token in the URL (?${named}=) is refused: send it as Authorization: Bearer`,
      { parameter: named },
    ),
  );
}

/**
 * Counts each answered request by method, route pattern (never the URL) and status. On send,
 * not on response: a client that has its answer sees it counted.
 */
export function requestCounter(metrics: ServerMetricsRegistry) {
  return async <T>(request: FastifyRequest, reply: FastifyReply, payload: T): Promise<T> => {
    // Unmatched URLs share one label, so scanning for paths cannot add series.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.recordRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    return payload;
  };
}
