import { TERMINAL_OPERATION_STATUSES, type Operation } from '@novacron/api';
import type { Command } from 'commander';
import { formatOf, type CliContext, type CliClient, type Writer } from './context.js';
import { CliError } from './errors.js';
import { integerArg } from './options.js';
import { cell, operationFields, operationLine, renderOne } from './output.js';

/** How long `--wait` waits by default: a first boot under TCG, image pull included, fits. */
export const DEFAULT_WAIT_SECONDS = 600;

const BAR_WIDTH = 24;

export interface WaitOptions {
  wait?: boolean;
  waitTimeout: number;
}

/** `--wait` and `--wait-timeout` of every command that starts an operation. */
export function addWaitOptions(command: Command): Command {
  return command
    .option('--wait', 'wait until the operation ends; fail if it fails')
    .option(
      '--wait-timeout <seconds>',
      'how long --wait waits',
      integerArg(0, 24 * 3600),
      DEFAULT_WAIT_SECONDS,
    );
}

/** One progress line, redrawn in place on a terminal. */
function progressLine(operation: Operation): string {
  const done = Math.round((Math.min(100, Math.max(0, operation.progress)) / 100) * BAR_WIDTH);
  const bar = `${'#'.repeat(done)}${'.'.repeat(BAR_WIDTH - done)}`;
  return `\r\u001b[2K${operation.kind} ${cell(operation.target.name)} [${bar}] ${Math.round(operation.progress)}% ${cell(operation.phase)}`;
}

/**
 * Waits for an operation, drawing a progress bar on stderr when it is a terminal. Returns the
 * last operation seen; `assertSucceeded` turns a failure or a timeout into an error.
 */
export async function waitForOperation(
  client: CliClient,
  operation: Operation,
  timeoutSeconds: number,
  stderr: Writer,
): Promise<Operation> {
  if (TERMINAL_OPERATION_STATUSES.includes(operation.status)) return operation;
  const interactive = stderr.isTTY === true;
  try {
    return await client.operations.wait(operation.id, timeoutSeconds, {
      // Short polls only when someone watches the bar; otherwise let the server hold the request.
      pollSeconds: interactive ? 2 : 30,
      onUpdate: interactive ? (op) => stderr.write(progressLine(op)) : undefined,
    });
  } finally {
    if (interactive) stderr.write('\r\u001b[2K');
  }
}

/** Fails with the operation's own error code when it failed, and says so when it did not finish. */
export function assertSucceeded(operation: Operation, timeoutSeconds: number): void {
  switch (operation.status) {
    case 'succeeded':
      return;
    case 'failed':
      throw new CliError(
        operation.error?.code ?? 'OPERATION_FAILED',
        operation.error?.message ?? `operation ${operation.id} (${operation.kind}) failed`,
        { ...operation.error?.details, operation: operation.id },
      );
    case 'cancelled':
      throw new CliError(
        'OPERATION_CANCELLED',
        `operation ${operation.id} (${operation.kind}) was cancelled`,
        {
          operation: operation.id,
        },
      );
    case 'pending':
    case 'running':
      throw new CliError(
        'WAIT_TIMEOUT',
        `operation ${operation.id} (${operation.kind} ${operation.target.name}) is still ${operation.status} after ${timeoutSeconds}s, in phase '${operation.phase}'; follow it with 'novacron operation wait ${operation.id}'`,
        { operation: operation.id },
      );
  }
}

/**
 * The end of a command that started an operation: without --wait it prints the operation; with
 * --wait it waits, prints the result in the --output format if one was asked for, and fails when
 * the operation failed. Answers the finished operation for the command to describe in words, or
 * undefined when there is nothing more to print.
 */
export async function finishOperation(
  ctx: CliContext,
  command: Command,
  options: WaitOptions,
  accepted: Operation,
  /** The caller's client, when it has one already. */
  given?: CliClient,
): Promise<Operation | undefined> {
  const format = formatOf(command);
  if (!options.wait) {
    ctx.print(format ? renderOne(format, accepted, operationFields) : operationLine(accepted));
    return undefined;
  }
  const client = given ?? (await ctx.client());
  const operation = await waitForOperation(client, accepted, options.waitTimeout, ctx.deps.stderr);
  if (format) ctx.print(renderOne(format, operation, operationFields));
  assertSucceeded(operation, options.waitTimeout);
  return format ? undefined : operation;
}
