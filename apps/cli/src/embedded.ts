import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  agentAddresses,
  loadAgentIdentity,
  saveAgentIdentity,
  startAgent,
  stopAllVms,
  type AgentIdentity,
} from '@novacron/agent';
import type { Host } from '@novacron/api';
import { certificateFingerprint } from '@novacron/auth';
import { loadConfig, type Config } from '@novacron/config';
import { DomainError } from '@novacron/domain';
import {
  ADMIN_PASSWORD_FILE,
  isWebUiBuilt,
  startServer,
  type RunningServer,
} from '@novacron/server';
import { createLogger, type Logger } from '@novacron/telemetry';
import { startCluster, takeClusterDown } from './cluster/cluster.js';
import { isAlive, readLivePid } from './pid-file.js';

export interface UpOptions {
  dataDir?: string;
  apiPort?: number;
  accel?: 'auto' | 'kvm' | 'tcg';
  hosts?: number;
}

export interface Embedded {
  server: RunningServer;
  host: Host;
  agentUrl: string;
  close(): Promise<void>;
}

export interface EmbeddedOptions {
  imageCacheDir?: string;
  /** How often the local agent heartbeats; default NOVACRON_HEARTBEAT_INTERVAL_MS. */
  heartbeatMs?: number;
  /** The former name of `heartbeatMs`, from when the server polled its agent. */
  hostPollMs?: number;
}

/** How long `up` waits for the local agent's first heartbeat to be accepted. */
const REGISTER_TIMEOUT_MS = 30_000;

/**
 * One server and one local agent in this process, each on its own listener. They meet as a
 * remote agent and the server do (docs/adr/0008-cluster-trust.md): mutual TLS with the cluster
 * CA, heartbeats, images pulled from the server. Only the agent's certificate is issued
 * in-process instead of through a join token.
 */
export async function startEmbedded(
  config: Config,
  logger: Logger,
  options: EmbeddedOptions = {},
): Promise<Embedded> {
  const server = await startServer({
    config,
    logger: logger.child({ process: 'server' }),
    ...(options.imageCacheDir === undefined ? {} : { imageCacheDir: options.imageCacheDir }),
  });
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  try {
    const heartbeatMs = options.heartbeatMs ?? options.hostPollMs;
    agent = await startAgent({
      config: {
        ...config,
        ...(heartbeatMs === undefined ? {} : { heartbeatIntervalMs: heartbeatMs }),
      },
      logger: logger.child({ process: 'agent' }),
      identity: await localAgentIdentity(config, server),
      serverUrl: server.clusterUrl,
    });
    await within(
      agent.registered,
      REGISTER_TIMEOUT_MS,
      'the local agent to send its first heartbeat',
    );
    const host = await server.store.hosts.get(agent.info.name);
    if (host === undefined) throw new Error(`host ${agent.info.name} did not register`);
    const running = agent;
    return {
      server,
      host,
      agentUrl: agent.url,
      close: async () => {
        await server.close();
        await running.close();
      },
    };
  } catch (error) {
    await agent?.close();
    await server.close();
    throw error;
  }
}

/**
 * The local agent's identity, kept in `<dataDir>/agent/pki/` like a joined agent's; made again
 * when missing, named otherwise, or from another CA.
 */
async function localAgentIdentity(config: Config, server: RunningServer): Promise<AgentIdentity> {
  const stored = await loadAgentIdentity(config.dataDir);
  if (
    stored !== undefined &&
    stored.name === config.agentName &&
    certificateFingerprint(stored.tls.ca) === server.trust.fingerprint
  ) {
    return stored;
  }
  const tls = await server.trust.issueAgentIdentity(
    config.agentName,
    agentAddresses(config.agentHost, undefined),
  );
  await saveAgentIdentity(config.dataDir, tls);
  return { name: config.agentName, tls };
}

async function within(promise: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const PID_FILE = 'novacron.pid';

/** `novacron up`: runs in the foreground until Ctrl-C; VMs keep running after it. */
export async function runUp(options: UpOptions): Promise<void> {
  const config = loadConfig(undefined, {
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.apiPort === undefined ? {} : { apiPort: options.apiPort }),
    ...(options.accel === undefined ? {} : { accel: options.accel }),
  });
  const logger = createLogger({ level: config.logLevel, name: 'novacron' });
  const pidFile = join(config.dataDir, PID_FILE);
  const running = await readLivePid(pidFile);
  if (running !== undefined) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `NovaCron is already up (pid ${running}); stop it with 'novacron down'`,
    );
  }
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });

  const say = (line: string) => process.stderr.write(`${line}\n`);
  let server: RunningServer;
  let hosts: Host[];
  let close: () => Promise<void>;
  if (options.hosts === undefined) {
    const embedded = await startEmbedded(config, logger);
    server = embedded.server;
    close = () => embedded.close();
    hosts = [embedded.host];
  } else {
    const cluster = await startCluster(config, logger, options.hosts);
    server = cluster.server;
    close = () => cluster.close();
    hosts = await server.store.hosts.list();
    say(
      `cluster on one machine: bridge ${cluster.layout.bridge} (${cluster.layout.serverAddress}/${cluster.layout.prefixLength}), one network namespace per host`,
    );
  }
  await writeFile(pidFile, `${process.pid}\n`);
  say(`NovaCron is up: API ${server.url}, cluster ${server.clusterUrl}, data in ${config.dataDir}`);
  say(
    isWebUiBuilt()
      ? `dashboard: ${server.url}/`
      : `dashboard: not built; 'npm run build:web' builds it (the API works without it)`,
  );
  for (const host of hosts) {
    say(
      `host ${host.name}: ${host.cpus} vCPUs, ${host.memoryMiB} MiB, accelerator ${host.accelerator ?? 'none'} (${host.acceleratorReason})`,
    );
  }
  if (server.generatedAdminPassword !== undefined) {
    say(
      `admin password (shown once, also in ${join(config.dataDir, ADMIN_PASSWORD_FILE)}): ${server.generatedAdminPassword}`,
    );
  }
  say(
    `log in with: npx novacron login --username admin   (Ctrl-C stops NovaCron; VMs keep running)`,
  );

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  say('stopping NovaCron (VMs keep running)');
  await close();
  await rm(pidFile, { force: true });
}

/** `novacron down`: stops a running `up`, then every VM of the local agent. */
export async function runDown(options: { dataDir?: string }): Promise<void> {
  const config = loadConfig(
    undefined,
    options.dataDir === undefined ? {} : { dataDir: options.dataDir },
  );
  const logger = createLogger({
    level: config.logLevel === 'info' ? 'warn' : config.logLevel,
    name: 'novacron',
  });
  const pidFile = join(config.dataDir, PID_FILE);
  const pid = await readLivePid(pidFile);
  if (pid !== undefined) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 60_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (isAlive(pid))
      throw new DomainError('INTERNAL', `NovaCron (pid ${pid}) did not stop within 60 s`);
  }
  const stopped =
    (await stopAllVms({ dataDir: config.dataDir, logger })) +
    (await takeClusterDown(config, logger));
  process.stderr.write(
    `NovaCron is down${pid === undefined ? ' (it was not running)' : ''}; ${String(stopped)} VM(s) stopped\n`,
  );
}
