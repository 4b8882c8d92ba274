import type { AccessTokens } from '@novacron/auth';
import type { Clock } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { Logger, ServerMetricsRegistry } from '@novacron/telemetry';
import type {
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AuditService } from './services/audit.js';
import type { ClusterTrust } from './services/cluster-trust.js';
import type { HardwareService } from './services/hardware.js';
import type { HostService } from './services/hosts.js';
import type { OperationRunner } from './services/operations.js';
import type { ImageService } from './services/images.js';
import type { LiveEvents } from './services/live-events.js';
import type { MetricsService } from './services/metrics.js';
import type { MigrationService } from './services/migrations.js';
import type { DrainService } from './services/drain.js';
import type { VmService } from './services/vms.js';
import type { SnapshotService } from './services/snapshots.js';
import type { Readiness } from './routes/health.js';
import type { LoginGuard } from './services/login-guard.js';
import type { SecondFactorService } from './services/second-factor.js';
import type { PrincipalCache } from './principal-cache.js';
import type { VmCache } from './vm-cache.js';

/** Everything the routes use, built by the composition root (server.ts) or by a test. */
export interface ServerDeps {
  store: Store;
  tokens: AccessTokens;
  clock: Clock;
  logger: Logger;
  hosts: HostService;
  operations: OperationRunner;
  vms: VmService;
  /** Resize and hotplug; the routes make one over store, hosts, operations and vms when absent. */
  hardware?: HardwareService;
  images: ImageService;
  /** The audit log; buildApp makes one over `store` when absent. */
  audit: AuditService;
  /** The cluster CA and join tokens; without it (tests), adding a host is refused. */
  trust?: ClusterTrust;
  /** Recent metrics from the heartbeats; without it (tests), series are empty. */
  metrics?: MetricsService;
  /** Live (unstored) events for the event stream; without it, streams carry stored events only. */
  live?: LiveEvents;
  /** Live migration; without it (tests of other routes), a migration is refused. */
  migrations?: MigrationService;
  /** Snapshots, clones, templates; without it, routes make one over the same store and hosts. */
  snapshots?: SnapshotService;
  /** Host drains; without it (tests of other routes), a drain is refused. */
  drains?: DrainService;
  /** Set by the composition root; without it, /readyz reports ready once the app answers. */
  readiness?: Readiness;
  /** Login lockout; buildApp makes an in-memory one with the default limits when absent. */
  loginGuard: LoginGuard;
  /** TOTP second factors; without it (tests of other routes), no user has one. */
  secondFactors?: SecondFactorService;
  /** The server's /metrics; without it, /metrics answers 404. */
  serverMetrics?: ServerMetricsRegistry;
  /** The built web dashboard (apps/web/out by default); paths outside the API serve it. */
  webUiDir?: string;
  /**
   * Callers resolved recently (docs/adr/0021-request-caches.md); buildApp makes one and routes
   * the store's security writes through it. Without it, every request reads the store.
   */
  principals?: PrincipalCache;
  /** VMs read recently by id, dropped by vm.* events (ADR 21); buildApp makes one. */
  vmCache?: VmCache;
}

/** What buildApp takes: the deps, with the ones it can make itself optional. */
export type AppDeps = Omit<ServerDeps, 'audit' | 'loginGuard'> & {
  audit?: AuditService;
  loginGuard?: LoginGuard;
};

export type ServerApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  Logger,
  TypeBoxTypeProvider
>;
