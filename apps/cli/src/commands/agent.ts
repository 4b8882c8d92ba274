import { Option, type Command } from 'commander';
import { integerArg, withOutput } from '../options.js';

export interface AgentCommandOptions {
  server: string;
  join?: string;
  name?: string;
  dataDir?: string;
  address?: string;
  agentPort?: number;
  accel?: 'auto' | 'kvm' | 'tcg';
}

/** `novacron agent`: this machine's agent, joined to a server's cluster (docs/adr/0008). */
export function registerAgentCommand(program: Command): void {
  withOutput(
    program
      .command('agent')
      .description(
        'run this machine as a host of a cluster: join it with a token the first time, then serve VMs (Ctrl-C stops the agent; VMs keep running)',
      )
      .requiredOption('--server <url>', "the server's cluster URL, https://host:8093")
      .option('--join <token>', 'one-time join token from `novacron host add NAME`')
      .option('--name <name>', 'the host name the token is for')
      .option(
        '--data-dir <dir>',
        'where the agent keeps its VMs and certificate (NOVACRON_DATA_DIR)',
      )
      .option(
        '--address <addr>',
        'the address to listen on and be reached at by the server (NOVACRON_AGENT_HOST)',
      )
      .option('--agent-port <port>', 'agent API port (NOVACRON_AGENT_PORT)', integerArg(0, 65535))
      .addOption(
        new Option('--accel <accel>', 'accelerator: auto probes KVM and falls back to TCG').choices(
          ['auto', 'kvm', 'tcg'] as const,
        ),
      ),
  ).action(async (options: AgentCommandOptions) => {
    // Loaded on demand: the agent stays out of every other command's start-up.
    const { runAgent } = await import('../agent-process.js');
    await runAgent(options);
  });
}
