import type { Command } from 'commander';
import { withOutput } from '../options.js';

export function registerDownCommand(program: Command): void {
  withOutput(
    program
      .command('down')
      .description('stop the VMs, the agents and the server that `up` started')
      .option('--data-dir <dir>', 'data directory `up` used (NOVACRON_DATA_DIR)'),
  ).action(async (options: { dataDir?: string }) => {
    // Loaded on demand: the server and agent stay out of every other command's start-up.
    const { runDown } = await import('../embedded.js');
    await runDown({ dataDir: options.dataDir });
  });
}
