import { startClusterAgent } from '@novacron/agent';
import { loadConfig } from '@novacron/config';
import { createLogger } from '@novacron/telemetry';
import type { AgentCommandOptions } from './commands/agent.js';

/**
 * `novacron agent`: joins (first time) and runs the agent in the foreground until Ctrl-C or
 * SIGTERM. Settings not on the command line come from NOVACRON_* variables (agent port, accel,
 * heartbeat interval, log level).
 */
export async function runAgent(options: AgentCommandOptions): Promise<void> {
  const config = loadConfig(undefined, {
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.agentPort === undefined ? {} : { agentPort: options.agentPort }),
    ...(options.accel === undefined ? {} : { accel: options.accel }),
  });
  const logger = createLogger({ level: config.logLevel, name: 'novacron-agent' });
  const agent = await startClusterAgent({
    config,
    logger,
    serverUrl: options.server,
    ...(options.join === undefined ? {} : { joinToken: options.join }),
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.address === undefined ? {} : { address: options.address }),
  });
  const say = (line: string) => process.stderr.write(`${line}\n`);
  say(`agent of host ${agent.name} is up: API ${agent.url}, server ${options.server}`);
  say(
    `${agent.info.cpus} vCPUs, ${agent.info.memoryMiB} MiB, accelerator ${agent.info.accelerator} (${agent.info.acceleratorReason})`,
  );

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  say('stopping the agent (VMs keep running)');
  await agent.close();
}
