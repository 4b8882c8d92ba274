import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent, stopAllVms } from '@novacron/agent';
import type { Host } from '@novacron/api';
import { loadConfig, type Config } from '@novacron/config';
import { DomainError } from '@novacron/domain';
import { ADMIN_PASSWORD_FILE, startServer, type RunningServer } from '@novacron/server';
import { createLogger, type Logger } from '@novacron/telemetry';

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

/**
 * One server and one local agent in this process, each on its own listener; the server reaches
 * the agent over HTTP only, as it would a remote one (docs/adr/0007-embedded-agent.md).
 */
export async function startEmbedded(
  config: Config,
  logger: Logger,
  options: { imageCacheDir?: string; hostPollMs?: number } = {},
): Promise<Embedded> {
  const server = await startServer({
    config,
    logger: logger.child({ process: 'server' }),
    ...options,
  });
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  try {
    agent = await startAgent({
      config,
      logger: logger.child({ process: 'agent' }),
      imageDir: server.imageDir,
    });
    const host = await server.registerHost(agent.url);
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

const PID_FILE = 'novacron.pid';

/** `novacron up`: runs in the foreground until Ctrl-C; VMs keep running after it. */
export async function runUp(options: UpOptions): Promise<void> {
  if (options.hosts !== undefined && options.hosts !== 1) {
    throw new DomainError(
      'VALIDATION_FAILED',
      'a cluster of several hosts on one machine (--hosts N) is not available yet; run without --hosts',
    );
  }
  const config = loadConfig(undefined, {
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.apiPort === undefined ? {} : { apiPort: options.apiPort }),
    ...(options.accel === undefined ? {} : { accel: options.accel }),
  });
  const logger = createLogger({ level: config.logLevel, name: 'novacron' });
  const pidFile = join(config.dataDir, PID_FILE);
  const running = await readPid(pidFile);
  if (running !== undefined) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `NovaCron is already up (pid ${running}); stop it with 'novacron down'`,
    );
  }

  const embedded = await startEmbedded(config, logger);
  await writeFile(pidFile, `${process.pid}\n`);
  const { server, host } = embedded;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  say(`NovaCron is up: API ${server.url}, data in ${config.dataDir}`);
  say(
    `host ${host.name}: ${host.cpus} vCPUs, ${host.memoryMiB} MiB, accelerator ${host.accelerator ?? 'none'} (${host.acceleratorReason})`,
  );
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
  await embedded.close();
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
  const pid = await readPid(pidFile);
  if (pid !== undefined) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 60_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (isAlive(pid))
      throw new DomainError('INTERNAL', `NovaCron (pid ${pid}) did not stop within 60 s`);
  }
  const stopped = await stopAllVms({ dataDir: config.dataDir, logger });
  process.stderr.write(
    `NovaCron is down${pid === undefined ? ' (it was not running)' : ''}; ${String(stopped)} VM(s) stopped\n`,
  );
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
