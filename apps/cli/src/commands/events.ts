import type { Command } from 'commander';
import type { Event, LiveEvent } from '@novacron/api';
import type { EventStream } from '@novacron/client';
import WebSocket from 'ws';
import { formatOf, type CliContext } from '../context.js';
import { integerArg, withOutput } from '../options.js';
import { cell, toYaml, type OutputFormat } from '../output.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((part) => part.trim())].filter((p) => p !== '');
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

/** The few fields of an event's data worth a glance, as `key=value`. */
function detail(event: Event): string {
  const data = event.data;
  const keys =
    event.subject.kind === 'operation'
      ? ['kind', 'status', 'phase', 'progress']
      : ['state', 'host', 'stateReason'];
  return keys
    .map((key) => [key, text(data[key])] as const)
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

/** One event as one line (table), one JSON line (json) or one YAML document (yaml). */
export function eventLine(format: OutputFormat, event: Event): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(event)}\n`;
    case 'yaml':
      return `---\n${toYaml(event)}`;
    case 'table': {
      const name = text(event.data.name) ?? text(event.subject.id) ?? '';
      const parts = [
        String(event.seq),
        event.time,
        event.type,
        `${event.subject.kind} ${name}`,
        detail(event),
      ];
      return `${parts.map((part) => cell(part)).join('  ')}\n`;
    }
  }
}

function mib(bytes: number | undefined): string | undefined {
  return bytes === undefined ? undefined : `${(bytes / 2 ** 20).toFixed(1)}MiB`;
}

function percent(value: number | undefined): string | undefined {
  return value === undefined ? undefined : `${value.toFixed(1)}%`;
}

/** The measured values of a live event, as `key=value`; an absent value is left out. */
function liveDetail(event: LiveEvent): string {
  let pairs: [string, string | number | undefined][];
  if (event.type === 'migration.progress') {
    const { phase, iteration, transferredBytes, remainingBytes, dirtyRateBytes } = event.data;
    pairs = [
      ['phase', phase],
      ['iteration', iteration],
      ['transferred', mib(transferredBytes)],
      ['remaining', mib(remainingBytes)],
      ['dirty', `${mib(dirtyRateBytes)}/s`],
    ];
  } else if ('vmId' in event.data) {
    const { cpuPercent, rssBytes, memoryBytes } = event.data;
    pairs = [
      ['cpu', percent(cpuPercent)],
      ['rss', mib(rssBytes)],
      ['memory', mib(memoryBytes)],
    ];
  } else {
    const { cpuPercent, memoryUsedBytes, memoryTotalBytes, load1 } = event.data;
    pairs = [
      ['cpu', percent(cpuPercent)],
      ['memoryUsed', mib(memoryUsedBytes)],
      ['memoryTotal', mib(memoryTotalBytes)],
      ['load1', load1],
    ];
  }
  return pairs
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

/** One live event (no seq: `-` in its place) as a line, a JSON line or a YAML document. */
export function liveLine(format: OutputFormat, event: LiveEvent): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(event)}\n`;
    case 'yaml':
      return `---\n${toYaml(event)}`;
    case 'table': {
      const parts = [
        '-',
        event.at,
        event.type,
        `${event.subject.kind} ${event.subject.name}`,
        liveDetail(event),
      ];
      return `${parts.map((part) => cell(part)).join('  ')}\n`;
    }
  }
}

export function registerEventsCommand(program: Command, ctx: CliContext): void {
  withOutput(
    program
      .command('events')
      .description('stream events as they happen, until Ctrl-C')
      .option(
        '--since <seq>',
        'first replay the events after this seq (the last one you saw)',
        integerArg(0),
      )
      .option(
        '--type <pattern>',
        'only these types: vm.created, vm.*, metrics.sample, ... (repeatable)',
        collect,
        [],
      )
      .option('--project <name>', 'only events of this project'),
  ).action(
    async (options: { since?: number; type: string[]; project?: string }, command: Command) => {
      const format = formatOf(command) ?? 'table';
      const client = await ctx.client();
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // Read by the reconnect notice; set once the stream exists.
      let stream: EventStream | undefined;
      try {
        stream = client.events({
          ...(options.since === undefined ? {} : { since: options.since }),
          ...(options.project === undefined ? {} : { project: options.project }),
          types: options.type,
          WebSocket,
          signal: controller.signal,
          onEvent: (event) => ctx.deps.stdout.write(eventLine(format, event)),
          onLive: (event, { dropped }) => {
            if (dropped > 0) {
              ctx.deps.stderr.write(
                `${dropped} live events dropped: this terminal read too slowly\n`,
              );
            }
            ctx.deps.stdout.write(liveLine(format, event));
          },
          onReconnect: ({ delayMs, reason }) =>
            ctx.deps.stderr.write(
              `event stream dropped (${cell(reason)}); reconnecting in ${Math.round(delayMs / 100) / 10} s, resuming after seq ${stream?.lastSeq ?? '-'}\n`,
            ),
        });
        await stream.done;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    },
  );
}
