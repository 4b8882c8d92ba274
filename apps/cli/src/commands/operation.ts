import type { Command } from 'commander';
import { formatOf, type CliContext } from '../context.js';
import { integerArg, withOutput } from '../options.js';
import { operationFields, operationLine, renderOne } from '../output.js';
import { assertSucceeded, DEFAULT_WAIT_SECONDS, waitForOperation } from '../wait.js';

export function registerOperationCommands(program: Command, ctx: CliContext): void {
  const operation = program
    .command('operation')
    .description('long-running work: create, start, stop, delete');

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
}
