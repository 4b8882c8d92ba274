import type { AgentHostInfo } from '@novacron/api';
import { peerOfSocket, type TlsIdentity } from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import type { AgentMetricsRegistry } from '@novacron/telemetry';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { toErrorReply } from './errors.js';
import type { AgentLogger } from './logger.js';
import { registerMetricsRoute } from './metrics/route.js';
import { registerVmConsoleStreams } from './routes/console-stream.js';
import { registerHostGet } from './routes/host-get.js';
import { registerVmConsole } from './routes/vms/console.js';
import { registerVmDirtyRate } from './routes/vms/dirty-rate.js';
import { registerVmDelete } from './routes/vms/delete.js';
import { registerVmGet } from './routes/vms/get.js';
import { registerVmHardware } from './routes/vms/hardware.js';
import { registerVmList } from './routes/vms/list.js';
import { registerVmMigrationAbort } from './routes/vms/migration-abort.js';
import { registerVmMigrationComplete } from './routes/vms/migration-complete.js';
import { registerVmMigrationGet } from './routes/vms/migration-get.js';
import { registerVmMigrationIncoming } from './routes/vms/migration-incoming.js';
import { registerVmMigrationOutgoing } from './routes/vms/migration-outgoing.js';
import { registerVmMigrationDiskDone } from './routes/vms/migration-disk-done.js';
import { registerVmMigrationDiskIncoming } from './routes/vms/migration-disk-incoming.js';
import { registerVmMigrationDiskOutgoing } from './routes/vms/migration-disk-outgoing.js';
import { registerVmMigrationMirror } from './routes/vms/migration-mirror.js';
import { registerVmMigrationPostcopy } from './routes/vms/migration-postcopy.js';
import { registerVmMigrationSwitchover } from './routes/vms/migration-switchover.js';
import { registerVmMigrationTune } from './routes/vms/migration-tune.js';
import { registerVmPut } from './routes/vms/put.js';
import { registerVmState } from './routes/vms/state.js';
import { registerVmSnapshots } from './routes/vms/snapshots.js';
import type { VmManager } from './vm-manager.js';

export interface AgentAppDeps {
  vms: VmManager;
  hostInfo: AgentHostInfo;
  logger: AgentLogger;
  /**
   * The agent's cluster identity: the API is then HTTPS with mutual TLS and answers only the
   * server (docs/adr/0008-cluster-trust.md). Only unit tests that `inject` go without it.
   */
  tls?: TlsIdentity;
  /** The agent's Prometheus registry, served at GET /metrics. */
  metrics?: AgentMetricsRegistry;
}

/** The agent's API, without `listen` (tests call `inject`). */
export function buildAgentApp(deps: AgentAppDeps) {
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    https:
      deps.tls === undefined
        ? null
        : {
            key: deps.tls.key,
            cert: deps.tls.cert,
            ca: deps.tls.ca,
            // The TLS layer itself refuses a caller without a certificate from the cluster CA
            // (missing, forged, expired or from another CA).
            requestCert: true,
            rejectUnauthorized: true,
          },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  app.setErrorHandler((error, request, reply) => {
    const { status, body, unexpected } = toErrorReply(error, request.id);
    if (unexpected) {
      deps.logger.error(
        { err: String(error), url: request.url, method: request.method },
        'agent request failed',
      );
    }
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: {
        code: 'ROUTE_NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
        details: {},
        requestId: request.id,
      },
    }),
  );

  if (deps.tls !== undefined) {
    // A valid cluster certificate is not enough: other agents hold one too.
    app.addHook('onRequest', (request, _reply, done) => {
      const peer = peerOfSocket(request.raw.socket);
      done(
        peer?.role === 'server'
          ? undefined
          : new DomainError('FORBIDDEN', 'only the NovaCron server may call the agent API', {
              peer: peer === undefined ? null : `${peer.role} ${peer.name}`,
            }),
      );
    });
  }

  registerHostGet(app, deps);
  registerMetricsRoute(app, deps);
  registerVmList(app, deps);
  registerVmGet(app, deps);
  registerVmPut(app, deps);
  registerVmHardware(app, deps);
  registerVmState(app, deps);
  registerVmDelete(app, deps);
  registerVmSnapshots(app, deps);
  registerVmConsole(app, deps);
  registerVmConsoleStreams(app, deps);
  registerVmMigrationIncoming(app, deps);
  registerVmMigrationOutgoing(app, deps);
  registerVmMigrationGet(app, deps);
  registerVmMigrationTune(app, deps);
  registerVmMigrationPostcopy(app, deps);
  registerVmMigrationMirror(app, deps);
  registerVmMigrationSwitchover(app, deps);
  registerVmMigrationDiskIncoming(app, deps);
  registerVmMigrationDiskOutgoing(app, deps);
  registerVmMigrationDiskDone(app, deps);
  registerVmMigrationAbort(app, deps);
  registerVmMigrationComplete(app, deps);
  registerVmDirtyRate(app, deps);
  return app;
}

export type AgentFastify = ReturnType<typeof buildAgentApp>;
