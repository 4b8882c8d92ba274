import { Option, type Command } from 'commander';
import { integerArg, withOutput } from '../options.js';

export function registerUpCommand(program: Command): void {
  withOutput(
    program
      .command('up')
      .description(
        'run the server and a local agent in the foreground (Ctrl-C stops them; VMs keep running)',
      )
      .option('--data-dir <dir>', 'where the database, images and VMs live (NOVACRON_DATA_DIR)')
      .option('--api-port <port>', 'REST API port (NOVACRON_API_PORT)', integerArg(0, 65535))
      .addOption(
        new Option('--accel <accel>', 'accelerator: auto probes KVM and falls back to TCG').choices(
          ['auto', 'kvm', 'tcg'] as const,
        ),
      )
      .option(
        '--hosts <n>',
        'run N agents, each in its own network namespace on a bridge (needs root)',
        integerArg(1, 64),
      ),
  ).action(
    async (options: {
      dataDir?: string;
      apiPort?: number;
      accel?: 'auto' | 'kvm' | 'tcg';
      hosts?: number;
    }) => {
      // Loaded on demand: the server and agent stay out of every other command's start-up.
      const { runUp } = await import('../embedded.js');
      await runUp({
        dataDir: options.dataDir,
        apiPort: options.apiPort,
        accel: options.accel,
        hosts: options.hosts,
      });
    },
  );
}
