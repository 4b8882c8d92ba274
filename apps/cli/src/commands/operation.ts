import { Option, type Command } from 'commander';
import {
  OPERATION_KINDS,
  OPERATION_STATUSES,
  type OperationKind,
  type OperationStatus,
} from '@novacron/api';
import { formatOf, type CliContext } from '../context.js';
import { integerArg, withOutput } from '../options.js';
import {
  operationColumns,
  operationFields,
  operationLine,
  renderList,
  renderOne,
} from '../output.js';
import { listAll } from '../paging.js';
import { assertSucceeded, DEFAULT_WAIT_SECONDS, waitForOperation } from '../wait.js';

export function registerOperationCommands(program: Command, ctx: CliContext): void {
  const operation = program
    .command('operation')
    .description('long-running work: create, start, stop, delete');

  withOutput(
    operation
      .command('list')
      .description('list operations, newest first')
      .addOption(
        new Option('--status <status>', 'only operations in this status').choices(
          OPERATION_STATUSES,
        ),
      )
      .addOption(
        new Option('--kind <kind>', 'only operations of this kind').choices(OPERATION_KINDS),
      )
      .option('--target <name>', 'only operations on this VM (name or id)')
      .option('--limit <n>', 'at most this many (default: all)', integerArg(1, 1_000_000)),
  ).action(
    async (
      options: { status?: OperationStatus; kind?: OperationKind; target?: string; limit?: number },
      command: Command,
    ) => {
      const client = await ctx.client();
      const { status, kind, target, limit } = options;
      const pageSize = limit === undefined ? undefined : Math.min(limit, 1000);
      const operations = await listAll((cursor) =>
        client.operations.list({ status, kind, target, cursor, limit: pageSize }),
      );
      const shown = limit === undefined ? operations : operations.slice(0, limit);
      ctx.print(renderList(formatOf(command) ?? 'table', shown, operationColumns));
    },
  );

  withOutput(
    operation.command('get').description('show one operation').argument('<id>', 'operation id'),
  ).action(async (id: string, _options: unknown, command: Command) => {
    const client = await ctx.client();
    ctx.print(
      renderOne(formatOf(command) ?? 'table', await client.operations.get(id), operationFields),
    );
  });

  withOutput(
    operation
      .command('wait')
      .description('wait until an operation ends; fail if it failed')
      .argument('<id>', 'operation id')
      .option(
        '--timeout <seconds>',
        'give up after this long',
        integerArg(0, 24 * 3600),
        DEFAULT_WAIT_SECONDS,
      ),
  ).action(async (id: string, options: { timeout: number }, command: Command) => {
    const client = await ctx.client();
    const current = await client.operations.get(id);
    const final = await waitForOperation(client, current, options.timeout, ctx.deps.stderr);
    const format = formatOf(command);
    // Scripts get the operation even when it failed; people get the error line alone.
    if (format) ctx.print(renderOne(format, final, operationFields));
    assertSucceeded(final, options.timeout);
    if (!format) ctx.print(operationLine(final));
  });

  withOutput(
    operation
      .command('cancel')
      .description('cancel a running operation: its work stops and undoes what it did')
      .argument('<id>', 'operation id')
      .option('--wait', 'wait until it has ended')
      .option(
        '--wait-timeout <seconds>',
        'how long --wait waits',
        integerArg(0, 24 * 3600),
        DEFAULT_WAIT_SECONDS,
      ),
  ).action(
    async (id: string, options: { wait?: boolean; waitTimeout: number }, command: Command) => {
      const client = await ctx.client();
      const accepted = await client.operations.cancel(id);
      const final = options.wait
        ? await waitForOperation(client, accepted, options.waitTimeout, ctx.deps.stderr)
        : accepted;
      const format = formatOf(command);
      ctx.print(format ? renderOne(format, final, operationFields) : operationLine(final));
    },
  );
}
