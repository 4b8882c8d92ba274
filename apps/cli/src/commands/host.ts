import type { Command } from 'commander';
import type { HostPatch, Operation } from '@novacron/api';
import { formatOf, type CliContext } from '../context.js';
import { parseLabelChanges } from '../labels.js';
import { withOutput } from '../options.js';
import {
  hostColumns,
  hostFields,
  hostState,
  operationFields,
  operationLine,
  renderList,
  renderOne,
} from '../output.js';
import { listAll } from '../paging.js';
import { addWaitOptions, assertSucceeded, waitForOperation, type WaitOptions } from '../wait.js';
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
  ];
  for (const [verb, description, patch, done] of flags) {
    withOutput(
      host.command(verb).description(description).argument('<name>', 'host name or id'),
    ).action(async (name: string, _options: unknown, command: Command) => {
      await patchHost(ctx, command, name, patch, done);
    });
  }

  const placement: ['cordon' | 'uncordon', string, string][] = [
    ['cordon', 'keep the VMs the host has, place no new ones on it', 'cordoned'],
    ['uncordon', 'let the host take new VMs again (also ends maintenance)', 'uncordoned'],
  ];
  for (const [verb, description, done] of placement) {
    withOutput(
      host.command(verb).description(description).argument('<name>', 'host name or id'),
    ).action(async (name: string, _options: unknown, command: Command) => {
      const client = await ctx.client();
      const changed = await client.hosts[verb](name);
      const format = formatOf(command);
      ctx.print(
        format
          ? renderOne(format, changed, hostFields)
          : `host ${changed.name} ${done} (${hostState(changed)})`,
      );
    });
  }

  addWaitOptions(
    withOutput(
      host
        .command('drain')
        .description(
          'live-migrate every VM off the host (the scheduler picks targets) and leave it in maintenance',
        )
        .argument('<name>', 'host name or id'),
    ),
  ).action(async (name: string, options: WaitOptions, command: Command) => {
    const client = await ctx.client();
    const accepted = await client.hosts.drain(name);
    const format = formatOf(command);
    if (!options.wait) {
      ctx.print(format ? renderOne(format, accepted, operationFields) : operationLine(accepted));
      return;
    }
    const operation = await waitForOperation(
      client,
      accepted,
      options.waitTimeout,
      ctx.deps.stderr,
    );
    if (format) {
      ctx.print(renderOne(format, operation, operationFields));
    } else {
      for (const vm of drainedVms(operation)) {
        ctx.print(
          `${vm.name}: ${vm.status}${vm.to ? ` -> ${vm.to}` : ''}${vm.reason ? ` (${vm.reason})` : ''}`,
        );
      }
    }
    assertSucceeded(operation, options.waitTimeout);
    if (!format) ctx.print(`host ${operation.target.name} drained, in maintenance`);
  });
}

/** Each VM's outcome, as the drain operation records it. */
function drainedVms(
  operation: Operation,
): { name: string; status: string; to?: string; reason?: string }[] {
  const vms = operation.metadata?.['vms'];
  return Array.isArray(vms) ? (vms as { name: string; status: string }[]) : [];
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
