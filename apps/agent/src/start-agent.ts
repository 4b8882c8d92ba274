import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { networkInterfaces } from 'node:os';
import type { AgentHostInfo } from '@novacron/api';
import type { Config } from '@novacron/config';
import { DomainError } from '@novacron/domain';
import { AgentMetricsRegistry } from '@novacron/telemetry';
import {
  checkHostPrerequisites,
  ensureTinyImage,
  qemuVersion,
  selectAccelerator,
  type ProbeImage,
} from '@novacron/qemu';
import { buildAgentApp } from './app.js';
import { ConsoleLogKeeper } from './console-log.js';
import { HeartbeatLoop } from './heartbeat.js';
import { measureHostInfo } from './host-info.js';
import type { AgentIdentity } from './identity.js';
import { ImageCache } from './image-cache.js';
import type { AgentLogger } from './logger.js';
import { MetricsSampler } from './metrics/sampler.js';
import { checkSharedPool } from './migration/shared-pool.js';
import { writeMigrationTlsDir } from './migration/tls-creds.js';
import { startHostNetwork } from './network/host-network.js';
import { agentPaths } from './paths.js';
import { ServerLink } from './server-link.js';
import { VmManager } from './vm-manager.js';
import { VmStateDir } from './vm-state-dir.js';

export interface StartAgentOptions {
  /** Uses agentHost, agentPort (0 = any free port), accel, dataDir, heartbeatIntervalMs and the advertised share (agentCpus, agentMemoryMiB). */
  config: Pick<Config, 'agentHost' | 'agentPort' | 'accel' | 'dataDir'> &
    Partial<
      Pick<
        Config,
        | 'heartbeatIntervalMs'
        | 'metricsIntervalMs'
        | 'agentCpus'
        | 'agentMemoryMiB'
        | 'sharedPoolDir'
      >
    > &
    /** The VM network (bridge, DHCP, NAT); without `vmNetwork` there is none (VMs get no NIC). */
    Partial<Pick<Config, 'vmNetwork' | 'bridge' | 'vmSubnet' | 'vmNat'>>;
  logger: AgentLogger;
  /** This host's name and certificate (joined, or issued in-process by `novacron up`). */
  identity: AgentIdentity;
  /**
   * The server's cluster URL: heartbeats go there and images come from there. Without it (tests)
   * the agent sends no heartbeat and uses only images already in its cache.
   */
  serverUrl?: string;
  /** The address the server dials; default the listen address (or this machine's first outside one). */
  advertiseHost?: string;
  /** The guest that tests KVM when accel is auto; default: the tiny image, built on demand. */
  probeImage?: () => Promise<ProbeImage>;
  /** Cluster CPU model; default per accelerator. */
  cpuModel?: string;
}

export interface RunningAgent {
  /** The agent API: `https://host:port`, mutual TLS. */
  url: string;
  info: AgentHostInfo;
  /** Resolves once the server has accepted a heartbeat (never without a server). */
  registered: Promise<void>;
  /** Stops heartbeats and the API and lets go of the VMs: QEMU processes keep running. */
  close(): Promise<void>;
}

/**
 * The host agent: checks host programs, picks the accelerator, re-attaches to the QEMUs still
 * running from an earlier agent, serves the agent API over mutual TLS, and heartbeats to the
 * server.
 */
export async function startAgent(options: StartAgentOptions): Promise<RunningAgent> {
  const { config, logger, identity } = options;
  const prerequisites = await checkHostPrerequisites();
  if (!prerequisites.ok) {
    throw new DomainError(
      'HOST_PREREQUISITE_MISSING',
      prerequisites.message ?? 'missing host programs',
      {
        missing: prerequisites.missing,
        installCommand: prerequisites.installCommand,
      },
    );
  }

  const paths = agentPaths(config.dataDir, config.sharedPoolDir);
  await mkdir(paths.vmsDir, { recursive: true });
  if (paths.sharedPoolDir !== null) await checkSharedPool(paths.sharedPoolDir);
  // QEMU reads its migration TLS credentials from files; made again from the current identity.
  await writeMigrationTlsDir(paths.migrationTlsDir, identity.tls);
  // Where the server dials this agent is also where a target's QEMU listens for migrations.
  const clusterAddress = options.advertiseHost ?? advertisedHost(config.agentHost);
  const verdict = await selectAccelerator({
    mode: config.accel,
    cacheFile: paths.accelCache,
    logger,
    probeImage:
      options.probeImage ??
      (() =>
        ensureTinyImage({ cacheDir: paths.packageCacheDir, outDir: paths.probeImageDir, logger })),
  });
  logger.info({ ...verdict }, 'accelerator selected');
  const { network, info: networkInfo } = await startHostNetwork(
    {
      vmNetwork: config.vmNetwork ?? 'off',
      bridge: config.bridge ?? 'novacronbr0',
      vmSubnet: config.vmSubnet ?? '10.78.0.0/24',
      vmNat: config.vmNat ?? 'off',
    },
    join(paths.agentDir, 'network'),
    logger,
  );
  const info = {
    ...measureHostInfo(identity.name, verdict, (await qemuVersion()).version, {
      cpus: config.agentCpus,
      memoryMiB: config.agentMemoryMiB,
    }),
    network: networkInfo,
    sharedPool: paths.sharedPoolDir !== null,
  };

  const link =
    options.serverUrl === undefined ? undefined : new ServerLink(options.serverUrl, identity.tls);
  const vms = new VmManager({
    stateDir: new VmStateDir(paths),
    images: new ImageCache({
      dir: paths.imagesDir,
      logger,
      ...(link && { fetch: (id, file) => link.imageFile(id, file) }),
    }),
    accelerator: verdict.accelerator,
    logger,
    migration: { address: clusterAddress, tlsDir: paths.migrationTlsDir },
    ...(options.cpuModel === undefined ? {} : { cpuModel: options.cpuModel }),
    ...(network && { network }),
  });
  await vms.reattach();

  const metrics = new AgentMetricsRegistry(info.name);
  const sampler = new MetricsSampler({
    intervalMs: config.metricsIntervalMs ?? 5000,
    vms: () => vms.running(),
    dataDir: config.dataDir,
    registry: metrics,
    logger,
    ...(network && { nicCounters: (id: string) => network.nicCounters(id) }),
  });
  // Serial output kept per VM is bounded, including what QEMU wrote while the agent was down.
  const stateDir = new VmStateDir(paths);
  const consoleLogs = new ConsoleLogKeeper({
    logs: async () => (await stateDir.listIds()).map((id) => stateDir.files(id).consoleLog),
    logger,
  });
  await consoleLogs.trimAll();
  consoleLogs.start();

  const app = buildAgentApp({ vms, hostInfo: info, logger, tls: identity.tls, metrics });
  try {
    await app.listen({ host: config.agentHost, port: config.agentPort });
  } catch (error) {
    link?.close();
    await consoleLogs.stop();
    await vms.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.agentPort;
  const url = `https://${urlHost(options.advertiseHost ?? advertisedHost(config.agentHost))}:${port}`;
  logger.info({ url, host: info.name }, 'agent listening');

  const heartbeat =
    link &&
    new HeartbeatLoop({
      link,
      intervalMs: config.heartbeatIntervalMs ?? 2000,
      logger,
      report: async () => {
        // The server takes the host's name from its certificate, not from the body.
        const { cpus, memoryMiB, accelerator, acceleratorReason, qemuVersion, sharedPool } = info;
        return {
          agentUrl: url,
          host: { cpus, memoryMiB, accelerator, acceleratorReason, qemuVersion, sharedPool },
          vms: await vms.list(),
          ...(sampler.latest && { metrics: sampler.latest }),
        };
      },
    });
  sampler.start();
  heartbeat?.start();

  let closing: Promise<void> | undefined;
  return {
    url,
    info,
    registered: heartbeat?.firstAccepted ?? new Promise<void>(() => undefined),
    close: () => {
      closing ??= (async () => {
        await sampler.stop();
        await heartbeat?.stop();
        await app.close();
        link?.close();
        await consoleLogs.stop();
        await vms.close();
      })();
      return closing;
    },
  };
}

const WILDCARDS = new Set(['', '0.0.0.0', '::']);

/** The address the server should dial for a listen address: a wildcard means an outside one. */
export function advertisedHost(listenHost: string): string {
  if (!WILDCARDS.has(listenHost)) return listenHost;
  const outside = Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .find((entry) => !entry.internal && entry.family === 'IPv4');
  return outside?.address ?? '127.0.0.1';
}

/** The addresses to name in this agent's certificate. */
export function agentAddresses(listenHost: string, advertise: string | undefined): string[] {
  const addresses = [advertise ?? advertisedHost(listenHost)];
  if (!WILDCARDS.has(listenHost)) addresses.push(listenHost);
  else {
    for (const entry of Object.values(networkInterfaces()).flatMap((e) => e ?? [])) {
      if (entry.scopeid === undefined || entry.scopeid === 0) addresses.push(entry.address);
    }
  }
  return [...new Set(addresses)].slice(0, 16);
}

function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
