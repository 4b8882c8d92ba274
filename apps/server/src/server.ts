import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AccessTokens, DEFAULT_LOGIN_THROTTLE } from '@novacron/auth';
import type { Config } from '@novacron/config';
import { openStore, systemClock, type Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';
import { HttpsAgentClient } from './agents/agent-client.js';
import { buildApp } from './app.js';
import { buildClusterApp } from './cluster-app.js';
import type { ServerApp, ServerDeps } from './deps.js';
import { AuditService } from './services/audit.js';
import { listenEvents } from './routes/events/listener.js';
import { Readiness } from './routes/health.js';
import {
  ensureAdmin,
  ensureSigningSecret,
  ensureTinyImageRegistered,
} from './services/bootstrap.js';
import { advertisedClusterUrl, ClusterTrust, serverAddresses } from './services/cluster-trust.js';
import { HardwareService } from './services/hardware.js';
import { SnapshotService } from './services/snapshots.js';
import { HostService } from './services/hosts.js';
import { OperationRunner } from './services/operations.js';
import { Reconciler } from './services/reconciler.js';
import { ImageService } from './services/images.js';
import { MetricsService } from './services/metrics.js';
import { LiveEvents, publishMetricsSamples } from './services/live-events.js';
import { MigrationService } from './services/migrations.js';
import { DrainService } from './services/drain.js';
import { SchedulerService } from './services/scheduler.js';
import { LoginGuard } from './services/login-guard.js';
import { openSecondFactors } from './services/second-factor.js';
import { serverMetricsOf } from './services/server-metrics.js';
import { VmService } from './services/vms.js';

export interface ServerOptions {
  config: Config;
  logger: Logger;
  /** Where downloaded Debian packages for the tiny image are kept; default `<dataDir>/cache`. */
  imageCacheDir?: string;
  /** Where the cluster port listens; default NOVACRON_API_HOST (e.g. a bridge address agents dial). */
  clusterHost?: string;
  /** More addresses the server certificate names. */
  clusterAddresses?: readonly string[];
  /** The cluster URL join commands name; default the listen address (or the first outside one). */
  clusterUrl?: string;
}

export interface RunningServer {
  url: string;
  /** The extra event stream listener (NOVACRON_WS_PORT): `ws://host:port/api/v1/events`. */
  eventsUrl: string;
  app: ServerApp;
  store: Store;
  /** The image store: one folder per image id. */
  imageDir: string;
  /** Set when this start created the admin user with a generated password. */
  generatedAdminPassword?: string;
  /** Where agents join, heartbeat and pull images: `https://host:port` (mutual TLS). */
  clusterUrl: string;
  /** The cluster CA, the server's certificate and join tokens. */
  trust: ClusterTrust;
  close(): Promise<void>;
}

/** The server's composition root: config -> store -> services -> routes -> listen. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config, logger } = options;
  const clusterHost = options.clusterHost ?? config.apiHost;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const store = await openStore(
    config.databaseUrl === undefined
      ? { sqlitePath: join(config.dataDir, 'novacron.db') }
      : { url: config.databaseUrl },
  );
  try {
    await store.migrate();
    const clock = systemClock;
    const signingSecret = await ensureSigningSecret(store);
    const tokens = new AccessTokens(signingSecret);
    const secondFactors = await openSecondFactors(store, signingSecret, clock, config.totpRequired);
    const serverMetrics = serverMetricsOf(store);
    const loginGuard = new LoginGuard(clock, {
      ...DEFAULT_LOGIN_THROTTLE,
      maxFailuresPerUser: config.loginMaxFailures,
      maxFailuresPerAddress: 4 * config.loginMaxFailures,
      lockoutMs: config.loginLockoutSeconds * 1000,
    });
    const admin = await ensureAdmin(store, config.dataDir, config.adminPassword);
    const imageDir = join(config.dataDir, 'images');
    await ensureTinyImageRegistered(
      store,
      imageDir,
      options.imageCacheDir ?? join(config.dataDir, 'cache'),
      logger,
    );

    const operations = new OperationRunner(store, clock, logger);
    const trust = await ClusterTrust.open({
      pkiDir: join(config.dataDir, 'pki'),
      addresses: serverAddresses(clusterHost, options.clusterAddresses),
      store,
      clock,
      logger,
    });
    const metrics = new MetricsService();
    const live = new LiveEvents(clock, logger);
    publishMetricsSamples(metrics, live, store, logger);
    const hosts = new HostService(
      store,
      clock,
      logger,
      (agentUrl, hostName) => new HttpsAgentClient(agentUrl, hostName, trust.identity),
      { hostTimeoutSeconds: config.hostTimeoutSeconds },
    );
    const scheduler = new SchedulerService(
      store,
      {
        policy: config.schedulerPolicy,
        overcommit: {
          cpu: config.cpuOvercommit,
          memory: config.memoryOvercommit,
          disk: config.diskOvercommit,
        },
      },
      metrics,
    );
    const vms = new VmService(store, hosts, operations, {
      defaultPool: config.defaultPool,
      scheduler,
    });
    const hardware = new HardwareService(store, hosts, operations, vms);
    const snapshots = new SnapshotService(store, hosts, operations, vms);
    const migrations = new MigrationService(
      store,
      vms,
      hosts,
      operations,
      logger,
      {
        maxBandwidthBytes: config.migrationMaxBandwidthBytes,
        maxDowntimeMs: config.migrationMaxDowntimeMs,
        tls: config.migrationTls,
        stallWindowMs: config.migrationStallSeconds * 1000,
      },
      (vm, progress) =>
        live.publish('migration.progress', { kind: 'vm', id: vm.id, name: vm.name }, progress, {
          project: vm.project,
        }),
    );
    const drains = new DrainService(store, migrations, scheduler, operations, logger);
    const images = new ImageService(store, operations, imageDir);
    const reconciler = new Reconciler(vms, clock, logger);
    hosts.onObserved = (vm, observed) => reconciler.observe(vm, observed);
    const readiness = new Readiness();
    const deps: ServerDeps = {
      audit: new AuditService(store, logger),
      store,
      tokens,
      clock,
      logger,
      hosts,
      operations,
      vms,
      hardware,
      snapshots,
      migrations,
      drains,
      images,
      readiness,
      trust,
      metrics,
      live,
      loginGuard,
      secondFactors,
      serverMetrics: serverMetrics.registry,
    };
    const app = buildApp(deps);
    await app.listen({ host: config.apiHost, port: config.apiPort });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.apiPort;
    const events = await listenEvents(app, config.apiHost, config.wsPort).catch(async (error) => {
      await app.close();
      throw new Error(`cannot listen on NOVACRON_WS_PORT ${config.wsPort}: ${String(error)}`, {
        cause: error,
      });
    });
    const cluster = buildClusterApp({
      store,
      clock,
      logger,
      hosts,
      trust,
      imageDir,
      metrics,
    });
    await cluster.listen({ host: clusterHost, port: config.clusterPort }).catch(async (error) => {
      await events.close();
      await app.close();
      throw new Error(
        `cannot listen on NOVACRON_CLUSTER_PORT ${config.clusterPort}: ${String(error)}`,
        {
          cause: error,
        },
      );
    });
    const clusterAddress = cluster.server.address();
    trust.advertise(
      options.clusterUrl ??
        advertisedClusterUrl(
          clusterHost,
          typeof clusterAddress === 'object' && clusterAddress !== null
            ? clusterAddress.port
            : config.clusterPort,
        ),
    );
    hosts.startMonitor();
    // Operations a previous process left unfinished: resumed or rolled back from their phase.
    const recovered = await operations.recover({
      ...vms.recoveryPlans(),
      ...hardware.recoveryPlans(),
      ...snapshots.recoveryPlans(),
      ...migrations.recoveryPlans(),
      ...drains.recoveryPlans(),
      ...images.recoveryPlans(),
    });
    if (recovered.resumed + recovered.rolledBack > 0) {
      logger.warn(recovered, 'operations interrupted by the last stop resumed or rolled back');
    }
    readiness.ready();

    return {
      url: `http://${config.apiHost}:${port}`,
      eventsUrl: `ws://${config.apiHost}:${events.port}/api/v1/events`,
      app,
      store,
      imageDir,
      ...(admin.generatedPassword === undefined
        ? {}
        : { generatedAdminPassword: admin.generatedPassword }),
      clusterUrl: trust.clusterUrl,
      trust,
      close: async () => {
        readiness.notReady('stopping');
        await cluster.close();
        await hosts.stopMonitor();
        await reconciler.close();
        // Not awaited before app.close: the streams it upgraded end when the app closes them.
        const eventsClosed = events.close();
        await app.close();
        await eventsClosed;
        await operations.close();
        serverMetrics.stop();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
