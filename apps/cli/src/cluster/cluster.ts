import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { stopAllVms } from '@novacron/agent';
import { environmentWith, type Config } from '@novacron/config';
import { DomainError } from '@novacron/domain';
import { startServer, type RunningServer } from '@novacron/server';
import type { Logger } from '@novacron/telemetry';
import { AgentSupervisor } from './agents.js';
import { createTestbed, destroyTestbed, planTestbed, type TestbedLayout } from './netns.js';

/** What `novacron down` needs to take a cluster on one machine apart again. */
const LAYOUT_FILE = 'cluster.json';

export interface RunningCluster {
  server: RunningServer;
  layout: TestbedLayout;
  close(): Promise<void>;
}

function hostDir(config: Config, name: string): string {
  return join(config.dataDir, 'hosts', name);
}

/** Every agent of the cluster sees the same folder: the shared pool (one filesystem, N namespaces). */
function sharedPoolDir(config: Config): string {
  return config.sharedPoolDir ?? join(config.dataDir, 'pools', 'shared');
}

/**
 * `novacron up --hosts N`: the server, a bridge, and N agents each in its own network namespace
 * with its own address, joined over the bridge with tokens like any remote host. Needs root.
 */
export async function startCluster(
  config: Config,
  logger: Logger,
  count: number,
  options: { imageCacheDir?: string; readyTimeoutMs?: number } = {},
): Promise<RunningCluster> {
  if (process.getuid?.() !== 0) {
    throw new DomainError(
      'HOST_PREREQUISITE_MISSING',
      'a cluster on one machine (--hosts N) creates a bridge and network namespaces: run it as root',
    );
  }
  const layout = planTestbed(config.clusterSubnet, count, config.clusterPrefix);
  await createTestbed(layout);
  await writeFile(join(config.dataDir, LAYOUT_FILE), `${JSON.stringify(layout, null, 2)}\n`);
  const server = await startServer({
    // Every host here sees the shared pool, so VMs go there unless created with --pool local.
    config: { ...config, defaultPool: 'shared' },
    logger: logger.child({ process: 'server' }),
    clusterHost: layout.serverAddress,
    ...(options.imageCacheDir === undefined ? {} : { imageCacheDir: options.imageCacheDir }),
  });
  // Each agent advertises an equal share of the machine (NOVACRON_AGENT_CPUS/MEMORY_MIB override).
  const share = {
    cpus: config.agentCpus ?? Math.max(1, Math.floor(availableParallelism() / count)),
    memoryMiB: config.agentMemoryMiB ?? Math.floor(totalmem() / (1024 * 1024) / count),
  };
  await mkdir(sharedPoolDir(config), { recursive: true });
  const supervisor = new AgentSupervisor(
    logger.child({ process: 'up' }),
    (config.hostTimeoutSeconds + 2) * 1000,
  );
  try {
    for (const host of layout.hosts) {
      const dataDir = hostDir(config, host.name);
      const joined = existsSync(join(dataDir, 'agent', 'pki'));
      const token = joined ? undefined : (await server.trust.createJoinToken(host.name)).token;
      await supervisor.start({
        host,
        dataDir,
        serverUrl: server.clusterUrl,
        ...(token === undefined ? {} : { joinToken: token }),
        env: agentEnv(config, share),
      });
    }
    await waitForHosts(server, layout, options.readyTimeoutMs ?? 120_000);
  } catch (error) {
    await supervisor.stop();
    await server.close();
    throw error;
  }
  return {
    server,
    layout,
    close: async () => {
      await supervisor.stop();
      await server.close();
    },
  };
}

function agentEnv(
  config: Config,
  share: { cpus: number; memoryMiB: number },
): Record<string, string | undefined> {
  return environmentWith({
    NOVACRON_AGENT_PORT: String(config.agentPort === 0 ? 8094 : config.agentPort),
    NOVACRON_ACCEL: config.accel,
    NOVACRON_LOG_LEVEL: config.logLevel,
    NOVACRON_HEARTBEAT_INTERVAL_MS: String(config.heartbeatIntervalMs),
    NOVACRON_AGENT_CPUS: String(share.cpus),
    NOVACRON_AGENT_MEMORY_MIB: String(share.memoryMiB),
    NOVACRON_SHARED_POOL_DIR: sharedPoolDir(config),
  });
}

async function waitForHosts(server: RunningServer, layout: TestbedLayout, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hosts = await server.store.hosts.list();
    const ready = new Set(hosts.filter((h) => h.state === 'ready').map((h) => h.name));
    const missing = layout.hosts.filter((h) => !ready.has(h.name)).map((h) => h.name);
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new DomainError(
        'HOST_UNREACHABLE',
        `hosts ${missing.join(', ')} did not come up within ${timeoutMs / 1000} s (see their agent.log)`,
        { hosts: missing },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** `novacron down` for a cluster on one machine: every host's VMs, then namespaces and bridge. */
export async function takeClusterDown(config: Config, logger: Logger): Promise<number> {
  const file = join(config.dataDir, LAYOUT_FILE);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return 0;
  const layout = JSON.parse(text) as TestbedLayout;
  let stopped = 0;
  for (const host of layout.hosts) {
    stopped += await stopAllVms({ dataDir: hostDir(config, host.name), logger });
  }
  await destroyTestbed(layout);
  await rm(file, { force: true });
  return stopped;
}
