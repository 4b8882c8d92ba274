import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { peerOfSocket } from '@novacron/auth';
import { DomainError, type Clock } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { handleError } from './errors.js';
import { JOIN_PATH, registerClusterJoin } from './routes/cluster/join.js';
import { registerClusterHeartbeat } from './routes/cluster/heartbeat.js';
import { registerClusterImageFile } from './routes/cluster/image-file.js';
import type { ClusterTrust } from './services/cluster-trust.js';
import type { HostService } from './services/hosts.js';
import { validatorCompiler } from './validation.js';
import type { MetricsService } from './services/metrics.js';

/** What the cluster routes use (docs/adr/0008-cluster-trust.md). */
export interface ClusterDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  hosts: HostService;
  trust: ClusterTrust;
  /** The image store: one folder per image id. */
  imageDir: string;
  /** Keeps the metrics samples that come with heartbeats. */
  metrics?: MetricsService;
}

export type ClusterApp = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  Logger,
  TypeBoxTypeProvider
>;

const ROUTES = [registerClusterJoin, registerClusterHeartbeat, registerClusterImageFile];

/**
 * The cluster port's application: HTTPS that asks every caller for a client certificate. Only
 * `POST /cluster/v1/join` answers without one; every other route needs an agent's certificate
 * signed by the cluster CA (a missing, expired, forged or foreign one is refused with 401).
 */
export function buildClusterApp(deps: ClusterDeps): ClusterApp {
  const app = Fastify({
    loggerInstance: deps.logger,
    https: deps.trust.listenOptions(),
    // A heartbeat of a host with thousands of VMs stays well below this.
    bodyLimit: 4 * 1024 * 1024,
    requestTimeout: 120_000,
    connectionTimeout: 10_000,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Bodies exactly as sent; query strings, params and headers converted only when exact.
  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler((error, request, reply) => handleError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    handleError(
      new DomainError(
        'ROUTE_NOT_FOUND',
        `no route ${request.method} ${request.url.split('?', 1)[0] ?? ''}`,
      ),
      request,
      reply,
    ),
  );
  app.addHook('onRequest', (request, _reply, done) => {
    const path = request.url.split('?', 1)[0] ?? '';
    done(path === JOIN_PATH ? undefined : refusal(request));
  });
  for (const register of ROUTES) register(app, deps);
  return app;
}

function refusal(request: FastifyRequest): DomainError | undefined {
  const peer = peerOfSocket(request.raw.socket);
  if (peer === undefined) {
    return new DomainError(
      'UNAUTHENTICATED',
      'cluster calls need a valid client certificate signed by the cluster CA',
    );
  }
  if (peer.role !== 'agent') {
    return new DomainError('FORBIDDEN', 'only agents call the cluster port');
  }
  return undefined;
}

/** The host an authenticated cluster call comes from: the name in its client certificate. */
export function callingHost(request: FastifyRequest): string {
  const peer = peerOfSocket(request.raw.socket);
  if (peer?.role !== 'agent') {
    throw new DomainError('UNAUTHENTICATED', 'this call needs an agent certificate');
  }
  return peer.name;
}
