import type { Command } from 'commander';
import type { HostMetricsSeries, VmMetricsSeries } from '@novacron/api';
import { formatOf, type CliContext } from '../context.js';
import { withOutput } from '../options.js';
import { formatBytes, renderOne } from '../output.js';

type Fields = readonly (readonly [string, string | number | null])[];

const percent = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(1)}%`);
const bytes = (value: number | undefined) => (value === undefined ? '-' : formatBytes(value));

/** `vm metrics NAME`: the latest sample as a table; `-o json|yaml` prints the whole series. */
export function registerVmMetricsCommand(vm: Command, ctx: CliContext): void {
  withOutput(
    vm
      .command('metrics')
      .description("show a VM's latest metrics sample (-o json: the recent series)")
      .argument('<name>', 'VM name or id')
      .option('--since <time>', 'only samples after this ISO time'),
  ).action(async (name: string, options: { since?: string }, command: Command) => {
    const client = await ctx.client();
    const series = await client.vms.metrics(name, options);
    ctx.print(renderOne(formatOf(command) ?? 'table', series, vmFields));
  });
}

/** `host metrics NAME`: the latest sample as a table; `-o json|yaml` prints the whole series. */
export function registerHostMetricsCommand(host: Command, ctx: CliContext): void {
  withOutput(
    host
      .command('metrics')
      .description("show a host's latest metrics sample (-o json: the recent series)")
      .argument('<name>', 'host name or id')
      .option('--since <time>', 'only samples after this ISO time'),
  ).action(async (name: string, options: { since?: string }, command: Command) => {
    const client = await ctx.client();
    const series = await client.hosts.metrics(name, options);
    ctx.print(renderOne(formatOf(command) ?? 'table', series, hostFields));
  });
}

function vmFields(series: VmMetricsSeries): Fields {
  const latest = series.samples.at(-1);
  if (latest === undefined)
    return [
      ['vm', series.vmId],
      ['sampled', 'no samples yet'],
    ];
  return [
    ['vm', series.vmId],
    ['sampled', latest.at],
    ['cpu', percent(latest.cpuPercent)],
    ['cpu time', latest.cpuSeconds === undefined ? '-' : `${latest.cpuSeconds.toFixed(2)} s`],
    ['rss', bytes(latest.rssBytes)],
    ['memory', formatBytes(latest.memoryBytes)],
    [
      'disk read',
      latest.disk ? `${formatBytes(latest.disk.readBytes)} in ${latest.disk.readOps} ops` : '-',
    ],
    [
      'disk written',
      latest.disk ? `${formatBytes(latest.disk.writtenBytes)} in ${latest.disk.writeOps} ops` : '-',
    ],
    [
      'nic received',
      latest.nic
        ? `${formatBytes(latest.nic.rxBytes)} in ${latest.nic.rxPackets} packets`
        : (latest.nicAbsentReason ?? '-'),
    ],
    [
      'nic sent',
      latest.nic ? `${formatBytes(latest.nic.txBytes)} in ${latest.nic.txPackets} packets` : '-',
    ],
  ];
}

function hostFields(series: HostMetricsSeries): Fields {
  const latest = series.samples.at(-1);
  if (latest === undefined)
    return [
      ['host', series.hostId],
      ['sampled', 'no samples yet'],
    ];
  return [
    ['host', series.hostId],
    ['sampled', latest.at],
    ['cpu', percent(latest.cpuPercent)],
    ['memory used', bytes(latest.memoryUsedBytes)],
    ['memory total', bytes(latest.memoryTotalBytes)],
    ['load', `${latest.load1.toFixed(2)} ${latest.load5.toFixed(2)} ${latest.load15.toFixed(2)}`],
    ['disk used', bytes(latest.diskUsedBytes)],
    ['disk free', bytes(latest.diskFreeBytes)],
  ];
}
