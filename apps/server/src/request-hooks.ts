import { DomainError } from '@novacron/domain';
import type { ServerMetricsRegistry } from '@novacron/telemetry';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticator } from './authenticate.js';
import type { ServerApp, ServerDeps } from './deps.js';
import { auditEntryOf, type AuditService } from './services/audit.js';

const TOKEN_PARAMETERS = ['token', 'access_token'];

/**
 * The hooks every request passes besides the authorizer: on arrival, the token-in-URL refusal
 * and authentication; on answer, the request counter and the audit entry. One hook each, with no
 * promise when there is nothing to wait for: each hook is a step of Fastify's chain (ADR 26).
 */
export function addRequestHooks(app: ServerApp, deps: ServerDeps, audit: AuditService): void {
  const authenticate = authenticator(deps);
  app.addHook('onRequest', (request, reply, done) => {
    if (isUpgrade(request) && request.routeOptions.config.websocket !== true) {
      endUpgradeAfterAnswer(request, reply);
    }
    let reading;
    try {
      refuseTokenInUrl(request);
      reading = authenticate(request);
    } catch (error) {
      done(error as Error);
      return;
    }
    if (reading === undefined) done();
    else reading.then(() => done(), done);
  });
  const { serverMetrics } = deps;
  app.addHook('onSend', (request, reply, payload, done) => {
    if (serverMetrics !== undefined) countRequest(serverMetrics, request, reply);
    const entry = auditEntryOf(request, reply, payload);
    if (entry === undefined) {
      done(null, payload);
      return;
    }
    void audit.recordQuietly(entry).then(() => done(null, payload));
  });
}

/** A request asking to switch protocols, as Node's HTTP server tells one (RFC 9110 §7.8). */
function isUpgrade(request: FastifyRequest): boolean {
  const { upgrade, connection } = request.headers;
  return upgrade !== undefined && connection !== undefined && /\bupgrade\b/i.test(connection);
}

/**
 * A WebSocket upgrade asked of an HTTP route (or of no route) gets the route's answer and then
 * loses its connection: the HTTP server let go of an upgrading socket, so nothing else would
 * close it. The WebSocket plugin did this in an onResponse hook of its own, which ran for every
 * request while its hooks were global (app.ts keeps them to its streams).
 */
function endUpgradeAfterAnswer(request: FastifyRequest, reply: FastifyReply): void {
  const { socket } = request.raw;
  // A response on an upgrading socket ends with 'finish' (its 'close' waits for the socket);
  // 'close' covers an answer that is never written.
  reply.raw.once('finish', () => socket.destroy());
  reply.raw.once('close', () => socket.destroy());
}

/**
 * Refuses a token in the query string on any HTTP route (TOKEN_IN_URL): URLs end up in access
 * logs, proxies and browser history. WebSocket upgrades pass: their routes refuse it with a close
 * code and an error frame, which a browser can read where it cannot read a failed handshake.
 */
export function refuseTokenInUrl(request: FastifyRequest): void {
  const query = request.url.indexOf('?');
  if (query < 0 || request.headers.upgrade?.toLowerCase() === 'websocket') return;
  const params = new URLSearchParams(request.url.slice(query + 1));
  const named = TOKEN_PARAMETERS.find((name) => params.has(name));
  if (named === undefined) return;
  throw new DomainError(
    'TOKEN_IN_URL',
    `a token in the URL (?${named}=) is refused: send it as Authorization: Bearer`,
    { parameter: named },
  );
}

/**
 * Counts an answered request by method, route pattern (never the URL) and status. On send, not
 * on response: a client that has its answer sees it counted.
 */
function countRequest(
  metrics: ServerMetricsRegistry,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  // Unmatched URLs share one label, so scanning for paths cannot add series.
  const route = request.routeOptions.url ?? 'unmatched';
  metrics.recordRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
}
