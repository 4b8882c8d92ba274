import { Option, type Command } from 'commander';
import {
  MIGRATION_COMPRESSIONS,
  MIGRATION_STRATEGIES,
  type MigrationCompression,
  type MigrationPlan,
  type MigrationRequest,
  type MigrationStrategy,
} from '@novacron/api';
import { parseSizeMiB } from '@novacron/domain';
import { formatOf, type CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { integerArg, withOutput } from '../options.js';
import {
  formatBytes,
  operationFields,
  operationLine,
  renderOne,
  renderTable,
  toJson,
  toYaml,
} from '../output.js';
import { addWaitOptions, assertSucceeded, waitForOperation, type WaitOptions } from '../wait.js';

export interface VmMigrateOptions {
  to?: string;
  strategy?: MigrationStrategy;
  /** Per second, e.g. `32M`. */
  maxBandwidth?: string;
  /** `100ms`, `1s` or plain milliseconds. */
  maxDowntime?: string;
  multifd?: number;
  compression?: MigrationCompression;
  xbzrle?: boolean;
  /** False with `--no-tls`. */
  tls: boolean;
  /** Only show the planner's prediction. */
  plan?: boolean;
}

const MiB = 1024 * 1024;

/** The request of `vm migrate`, sizes and durations read and checked before anything is sent. */
export function vmMigrateRequest(options: VmMigrateOptions): MigrationRequest {
  const request: MigrationRequest = {};
  if (options.to !== undefined) request.to = options.to;
  if (options.strategy !== undefined) request.strategy = options.strategy;
  if (options.maxBandwidth !== undefined) {
    request.maxBandwidthBytes = parseSizeMiB(options.maxBandwidth.replace(/\/s$/, '')) * MiB;
  }
  if (options.maxDowntime !== undefined) request.maxDowntimeMs = parseDuration(options.maxDowntime);
  if (options.multifd !== undefined) request.multifdChannels = options.multifd;
  if (options.compression !== undefined) request.compression = options.compression;
  if (options.xbzrle) request.xbzrle = true;
  if (!options.tls) request.tls = false;
  return request;
}

/** `100ms`, `2s` or a plain number of milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  const ms = match ? Number(match[1]) * (match[2] === 's' ? 1000 : 1) : NaN;
  if (!Number.isInteger(ms) || ms < 1) {
    throw new CliError('VALIDATION_FAILED', `'${text}' is not a duration like 100ms or 2s`, {
      value: text,
    });
  }
  return ms;
}

export function registerVmMigrateCommand(vm: Command, ctx: CliContext): void {
  addWaitOptions(
    withOutput(
      vm
        .command('migrate')
        .description(
          'move a VM to another host: live when running or paused (a local disk is mirrored first), its disk when stopped (--plan: only predict)',
        )
        .argument('<name>', 'VM name or id')
        .option('--to <host>', 'target host (default: the scheduler picks one)')
        .addOption(
          new Option('--strategy <strategy>', 'how memory moves (default auto)').choices(
            MIGRATION_STRATEGIES,
          ),
        )
        .option('--max-bandwidth <size>', 'cap on the stream per second, e.g. 32M')
        .option('--max-downtime <duration>', 'longest pause of the guest, e.g. 100ms')
        .option('--multifd <channels>', 'parallel streams (not with post-copy)', integerArg(1, 16))
        .addOption(
          new Option('--compression <kind>', 'multifd compression').choices(MIGRATION_COMPRESSIONS),
        )
        .option('--xbzrle', 'delta-compress re-sent pages (not with post-copy)')
        .option('--no-tls', 'send the stream without TLS')
        .option('--plan', 'measure and predict each strategy; move nothing'),
    ),
  ).action(async (name: string, options: VmMigrateOptions & WaitOptions, command: Command) => {
    const request = vmMigrateRequest(options);
    const client = await ctx.client();
    const format = formatOf(command);
    if (options.plan) {
      const { to, maxBandwidthBytes, maxDowntimeMs } = request;
      const plan = await client.vms.migrationPlan(name, {
        ...(to === undefined ? {} : { to }),
        ...(maxBandwidthBytes === undefined ? {} : { maxBandwidthBytes }),
        ...(maxDowntimeMs === undefined ? {} : { maxDowntimeMs }),
      });
      ctx.print(
        format === 'json' ? toJson(plan) : format === 'yaml' ? toYaml(plan) : planText(plan),
      );
      return;
    }
    const accepted = await client.vms.migrate(name, request);
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
    if (format) ctx.print(renderOne(format, operation, operationFields));
    assertSucceeded(operation, options.waitTimeout);
    if (!format) ctx.print(outcomeLine(operation.target.name, operation.result ?? {}));
  });
}

function planText(plan: MigrationPlan): string {
  const rows = plan.predictions.map((p) => ({
    strategy: p.strategy === plan.chosen ? `${p.strategy} *` : p.strategy,
    converges: p.converges ? 'yes' : 'no',
    total: p.totalTimeMs === null ? '-' : seconds(p.totalTimeMs),
    downtime: p.downtimeMs === null ? '-' : `${Math.round(p.downtimeMs)} ms`,
    reason: p.reason,
  }));
  return [
    `vm ${plan.vm}: ${plan.from} -> ${plan.to}, ${formatBytes(plan.memoryBytes)} RAM, ` +
      `dirtying ${formatBytes(plan.dirtyRateBytes)}/s, link ${formatBytes(plan.bandwidthBytes)}/s, ` +
      `max downtime ${plan.maxDowntimeMs} ms (measured in ${seconds(plan.planningTimeMs)})`,
    ...(plan.disk
      ? [
          `disk phase first: mirror ${formatBytes(plan.disk.allocatedBytes)} of the local disk ` +
            `(about ${seconds(plan.disk.predictedMs)}), then memory; post-copy is not offered`,
        ]
      : []),
    renderTable(
      [
        { header: 'STRATEGY', value: (r: (typeof rows)[number]) => r.strategy },
        { header: 'CONVERGES', value: (r: (typeof rows)[number]) => r.converges },
        { header: 'TOTAL', value: (r: (typeof rows)[number]) => r.total },
        { header: 'DOWNTIME', value: (r: (typeof rows)[number]) => r.downtime },
        { header: 'WHY', value: (r: (typeof rows)[number]) => r.reason },
      ],
      rows,
    ),
    '* what --strategy auto runs',
  ].join('\n');
}

function outcomeLine(name: string, result: Record<string, unknown>): string {
  const number = (key: string) => (typeof result[key] === 'number' ? result[key] : 0);
  const predicted = result.predicted as { totalTimeMs?: number | null } | undefined;
  const escalated =
    typeof result.escalated === 'string' ? `, escalated to ${result.escalated}` : '';
  const guess =
    typeof predicted?.totalTimeMs === 'number'
      ? `; predicted ${seconds(predicted.totalTimeMs)}`
      : '';
  const disk = result.disk as { mirroredBytes?: number; mirrorMs?: number } | undefined;
  const mirrored =
    typeof disk?.mirroredBytes === 'number'
      ? `; disk mirrored first: ${formatBytes(disk.mirroredBytes)} in ${seconds(disk.mirrorMs ?? 0)}`
      : '';
  return (
    `vm ${name} migrated from ${String(result.from)} to ${String(result.to)} in ` +
    `${seconds(number('totalTimeMs'))} (downtime ${number('downtimeMs')} ms, ` +
    `${String(result.strategy)}${escalated}, ${formatBytes(number('bytesTransferred'))} sent${guess})` +
    mirrored
  );
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
