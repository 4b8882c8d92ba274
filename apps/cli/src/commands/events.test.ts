import type { Event, LiveEvent } from '@novacron/api';
import type { EventStreamOptions } from '@novacron/client';
import { NovaCronApiError } from '@novacron/client';
import { loadConfig } from '@novacron/config';
import { describe, expect, it, vi } from 'vitest';
import type { CliClient, CliDeps } from '../context.js';
import { run } from '../main.js';

const SERVER = 'http://127.0.0.1:8090';

function event(seq: number, extra: Partial<Event> = {}): Event {
  return {
    seq,
    type: 'vm.updated',
    time: '2026-01-01T00:00:00.000Z',
    project: 'default',
    subject: { kind: 'vm', id: 'vm1' },
    data: { name: 'demo', state: 'running', host: 'host-a', stateReason: null },
    ...extra,
  };
}

/**
 * Runs `novacron ...args` against a client whose stream delivers `events` and then ends as the
 * server or Ctrl-C would end it: resolved, or rejected with `failure`.
 */
async function cli(
  args: string[],
  events: Event[],
  failure?: Error,
  live: [LiveEvent, number][] = [],
) {
  let stdout = '';
  let stderr = '';
  const seen: EventStreamOptions[] = [];
  const client = {
    events: vi.fn((options: EventStreamOptions) => {
      seen.push(options);
      for (const e of events) options.onEvent(e);
      for (const [e, dropped] of live) options.onLive?.(e, { dropped });
      // A drop comes later, from the socket, once the stream exists.
      queueMicrotask(() =>
        options.onReconnect?.({
          attempt: 1,
          delayMs: 250,
          reason: 'connection closed (code 1006)',
        }),
      );
      return {
        lastSeq: events.at(-1)?.seq,
        close: () => undefined,
        done: failure === undefined ? Promise.resolve() : Promise.reject(failure),
      };
    }),
  } as unknown as CliClient;
  const deps: CliDeps = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    createClient: () => client,
    loadConfig: () => loadConfig({ NOVACRON_SERVER_URL: SERVER, NOVACRON_TOKEN: 't' }),
    credentials: {
      get: () => Promise.resolve(undefined),
      save: () => Promise.resolve(),
      remove: () => Promise.resolve(false),
    },
    readPassword: () => Promise.resolve(''),
  };
  const code = await run(['node', 'novacron', ...args], deps);
  return { code, stdout, stderr, options: seen[0] };
}

describe('novacron events', () => {
  it('prints one line per event and passes --since, --type and --project to the stream', async () => {
    const { code, stdout, stderr, options } = await cli(
      [
        'events',
        '--since',
        '41',
        '--type',
        'vm.*',
        '--type',
        'operation.updated,host.*',
        '--project',
        'web',
      ],
      [
        event(42),
        event(43, {
          type: 'operation.updated',
          subject: { kind: 'operation', id: 'op1' },
          data: { kind: 'vm.start', status: 'running', phase: 'booting', progress: 50 },
        }),
      ],
    );
    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        '42  2026-01-01T00:00:00.000Z  vm.updated  vm demo  state=running host=host-a',
        '43  2026-01-01T00:00:00.000Z  operation.updated  operation op1  kind=vm.start status=running phase=booting progress=50',
        '',
      ].join('\n'),
    );
    expect(options).toMatchObject({
      since: 41,
      types: ['vm.*', 'operation.updated', 'host.*'],
      project: 'web',
    });
    expect(options?.WebSocket).toBeTypeOf('function');
    expect(stderr).toMatch(/reconnecting in 0.3 s, resuming after seq 43/);
  });

  it('prints live events (no seq) with their measured values, and says when some were dropped', async () => {
    const at = '2026-01-01T00:00:05.000Z';
    const vm: LiveEvent = {
      type: 'metrics.sample',
      at,
      project: 'default',
      subject: { kind: 'vm', id: 'vm1', name: 'web' },
      data: { vmId: 'vm1', at, cpuPercent: 58.25, rssBytes: 250 * 2 ** 20, memoryBytes: 2 ** 28 },
    };
    const host: LiveEvent = {
      type: 'metrics.sample',
      at,
      project: null,
      subject: { kind: 'host', id: 'h1', name: 'host-a' },
      data: { at, load1: 0.5, load5: 0.4, load15: 0.3, memoryUsedBytes: 2 ** 30 },
    };
    const { code, stdout, stderr, options } = await cli(
      ['events', '--type', 'metrics.*'],
      [],
      undefined,
      [
        [vm, 0],
        [host, 3],
      ],
    );
    expect(code).toBe(0);
    expect(options?.types).toEqual(['metrics.*']);
    expect(stdout).toBe(
      [
        `-  ${at}  metrics.sample  vm web  cpu=58.3% rss=250.0MiB memory=256.0MiB`,
        `-  ${at}  metrics.sample  host host-a  memoryUsed=1024.0MiB load1=0.5`,
        '',
      ].join('\n'),
    );
    expect(stderr).toMatch(/^3 live events dropped/m);
    const json = await cli(['events', '-o', 'json'], [], undefined, [[vm, 0]]);
    expect(JSON.parse(json.stdout) as LiveEvent).toEqual(vm);
  });

  it('prints one JSON object per line with -o json', async () => {
    const { stdout } = await cli(['events', '-o', 'json'], [event(1), event(2)]);
    expect(
      stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as Event),
    ).toEqual([event(1), event(2)]);
  });

  it('keeps server strings from steering the terminal', async () => {
    const { stdout } = await cli(
      ['events'],
      [event(1, { data: { name: 'x\u001b[2Jy', state: 'running' } })],
    );
    expect(stdout).not.toContain('\u001b');
  });

  it('fails with the server error code when the stream is refused', async () => {
    const { code, stderr } = await cli(
      ['events'],
      [],
      new NovaCronApiError(401, 'UNAUTHENTICATED', 'token expired'),
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: UNAUTHENTICATED: token expired/m);
  });

  it('refuses a --since that is not a whole number', async () => {
    const { code, stderr } = await cli(['events', '--since', '-3'], []);
    expect(code).toBe(2);
    expect(stderr).toMatch(/USAGE/);
  });
});
