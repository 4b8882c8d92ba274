import type { Command } from 'commander';
import type { HostPatch } from '@novacron/api';
import { formatOf, type CliContext } from '../context.js';
import { parseLabelChanges } from '../labels.js';
import { withOutput } from '../options.js';
import { hostColumns, hostFields, hostState, renderList, renderOne } from '../output.js';
import { listAll } from '../paging.js';
import { registerHostMetricsCommand } from './metrics.js';

export function registerHostCommands(program: Command, ctx: CliContext): void {
  const host = program.command('host').description('hypervisor hosts and their agents');
  registerHostMetricsCommand(host, ctx);

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

  withOutput(
    host
      .command('add')
      .description('make a one-time join token for a new host (admin); prints the command to run')
      .argument('<name>', 'the new host name'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const client = await ctx.client();
    const added = await client.hosts.add(name);
    const format = formatOf(command);
    ctx.print(
      format === undefined || format === 'table'
        ? [
            `join token for host ${added.name}, valid until ${added.expiresAt}, shown only once:`,
            `  ${added.token}`,
            'on the machine to join, run:',
            `  ${added.joinCommand}`,
          ].join('\n')
        : renderOne(format, added, () => []),
    );
  });

  withOutput(
    host
      .command('label')
      .description('set labels (key=value) or remove them (key-)')
      .argument('<name>', 'host name or id')
      .argument('<changes...>', 'key=value to set, key- to remove'),
  ).action(async (name: string, changes: string[], _options: unknown, command: Command) => {
    await patchHost(ctx, command, name, { labels: parseLabelChanges(changes) }, 'labelled');
  });

  const flags: [string, string, HostPatch, string][] = [
    ['enable', 'let the host take VMs again', { enabled: true }, 'enabled'],
    [
      'disable',
      'take the host out of placement: it shows disabled and takes no VMs',
      { enabled: false },
      'disabled',
    ],
    [
      'cordon',
      'keep the VMs the host has, place no new ones on it',
      { cordoned: true },
      'cordoned',
    ],
    ['uncordon', 'let the host take new VMs again', { cordoned: false }, 'uncordoned'],
  ];
  for (const [verb, description, patch, done] of flags) {
    withOutput(
      host.command(verb).description(description).argument('<name>', 'host name or id'),
    ).action(async (name: string, _options: unknown, command: Command) => {
      await patchHost(ctx, command, name, patch, done);
    });
  }
}

async function patchHost(
  ctx: CliContext,
  command: Command,
  name: string,
  patch: HostPatch,
  done: string,
): Promise<void> {
  const client = await ctx.client();
  const host = await client.hosts.patch(name, patch);
  const format = formatOf(command);
  ctx.print(
    format ? renderOne(format, host, hostFields) : `host ${host.name} ${done} (${hostState(host)})`,
  );
}
