import type { LiveEvent, VmMetricsSample } from '@novacron/api';
import type { NovaCronClient } from '@novacron/client';
import { waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startEmbeddedTestbed, type EmbeddedTestbed } from './testing.js';

// A real agent's metrics sample reaches an event stream subscriber as a live event.

let testbed: EmbeddedTestbed | undefined;
let client: NovaCronClient;

beforeAll(async () => {
  testbed = await startEmbeddedTestbed({ NOVACRON_METRICS_INTERVAL_MS: '1000' });
  client = testbed.client;
}, 180_000);

afterAll(async () => {
  await testbed?.close();
}, 60_000);

describe('live events on the event stream', () => {
  it('a subscriber to metrics.sample receives samples of a real VM and its host, and no stored events', async () => {
    const create = await client.vms.create({ name: 'live1', image: 'tiny', memoryMiB: 128 });
    expect(await client.operations.wait(create.id, 120)).toMatchObject({ status: 'succeeded' });
    const vm = await client.vms.get('live1');

    const live: LiveEvent[] = [];
    const stored: number[] = [];
    const subscribed = Date.now();
    const stream = client.events({
      types: ['metrics.sample'],
      WebSocket,
      onEvent: (event) => stored.push(event.seq),
      onLive: (event) => live.push(event),
    });
    try {
      const sample = await waitFor(
        'a metrics.sample of live1 with a CPU %',
        () =>
          Promise.resolve(
            live.find(
              (event) =>
                event.subject.name === 'live1' &&
                (event.data as VmMetricsSample).cpuPercent !== undefined,
            ),
          ),
        30_000,
        100,
      );
      const elapsedMs = Date.now() - subscribed;
      const data = sample.data as VmMetricsSample;
      console.log(
        `live events: first metrics.sample of live1 with a CPU % ${elapsedMs} ms after subscribing: cpu ${data.cpuPercent?.toFixed(1)}%, rss ${((data.rssBytes ?? 0) / 2 ** 20).toFixed(1)} MiB`,
      );
      expect(sample).toMatchObject({
        type: 'metrics.sample',
        project: vm.project,
        subject: { kind: 'vm', id: vm.id, name: 'live1' },
        data: { vmId: vm.id, memoryBytes: 128 * 2 ** 20 },
      });
      expect(sample).not.toHaveProperty('seq');
      const host = await waitFor(
        'a metrics.sample of the host',
        () => Promise.resolve(live.find((event) => event.subject.kind === 'host')),
        10_000,
        100,
      );
      const hostRow = await client.hosts.get(vm.host ?? '');
      expect(host).toMatchObject({
        project: null,
        subject: { kind: 'host', id: hostRow.id, name: hostRow.name },
      });
      expect(live.every((event) => event.type === 'metrics.sample')).toBe(true);

      // A stored change made meanwhile does not reach a stream subscribed to metrics only.
      const stop = await client.vms.action('live1', { action: 'stop', force: true });
      await client.operations.wait(stop.id, 60);
      // Another sample after the stop: the stream had time to deliver the stored events, had it any.
      const seen = live.length;
      await waitFor(
        'one more live event',
        () => (live.length > seen ? true : undefined),
        10_000,
        100,
      );
      expect(stored).toEqual([]);
      // The samples are the ones the server keeps: the metrics route has the same one.
      const series = await client.vms.metrics('live1');
      expect(series.samples.map((s) => s.at)).toContain(data.at);
    } finally {
      stream.close();
      await stream.done;
    }
  }, 240_000);
});
