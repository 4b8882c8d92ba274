import type { Command } from 'commander';
import { formatOf, type CliContext } from '../context.js';
import { withOutput } from '../options.js';
import { hostColumns, hostFields, renderList, renderOne } from '../output.js';
import { listAll } from '../paging.js';

export function registerHostCommands(program: Command, ctx: CliContext): void {
  const host = program.command('host').description('hypervisor hosts and their agents');

  withOutput(host.command('list').description('list hosts')).action(
    async (_options: unknown, command: Command) => {
      const client = await ctx.client();
      const hosts = await listAll((cursor) => client.hosts.list({ cursor }));
      ctx.print(renderList(formatOf(command) ?? 'table', hosts, hostColumns));
    },
  );

  withOutput(
    host.command('get').description('show one host').argument('<name>', 'host name or id'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const client = await ctx.client();
    ctx.print(renderOne(formatOf(command) ?? 'table', await client.hosts.get(name), hostFields));
  });
}
