import type { NovaCronClient } from '@novacron/client';
import { waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedTestbed, type EmbeddedTestbed } from './testing.js';

// Metrics measured by the agent on a real QEMU reach the server's routes with the heartbeats.

let testbed: EmbeddedTestbed | undefined;
let client: NovaCronClient;

beforeAll(async () => {
  testbed = await startEmbeddedTestbed({ NOVACRON_METRICS_INTERVAL_MS: '5000' });
  client = testbed.client;
}, 180_000);

afterAll(async () => {
  await testbed?.close();
}, 60_000);

describe('metrics of a real VM', () => {
  it('CPU % and RSS of a busy guest reach GET /vms/{name}/metrics within ~15 s', async () => {
    const create = await client.vms.create({
      name: 'busy',
      image: 'tiny',
      memoryMiB: 128,
      kernelArgs: 'workload=dirty dirty_mib_s=16 wss_mib=32',
    });
    expect(await client.operations.wait(create.id, 120)).toMatchObject({ status: 'succeeded' });
    const started = Date.now();
    const sample = await waitFor(
      'a sample of busy with CPU % and RSS',
      async () => {
        const { samples } = await client.vms.metrics('busy');
        return samples.find((s) => (s.cpuPercent ?? 0) > 0 && (s.rssBytes ?? 0) > 0);
      },
      30_000,
      250,
    );
    const elapsedMs = Date.now() - started;
    console.log(
      `metrics: first sample with CPU % after ${elapsedMs} ms: cpu ${sample.cpuPercent?.toFixed(1)}%, rss ${((sample.rssBytes ?? 0) / 2 ** 20).toFixed(1)} MiB`,
    );
    // Two 5 s samples (a CPU % needs two) plus a heartbeat, with room for a loaded machine.
    expect(elapsedMs).toBeLessThan(20_000);
    expect(sample.memoryBytes).toBe(128 * 2 ** 20);
    expect(sample.disk).toBeDefined();
    // NIC counters when the host has a VM network (it needs root), else the reason why not.
    if (sample.nic === undefined) expect(sample.nicAbsentReason).toMatch(/no NIC/);
    else expect(sample.nicAbsentReason).toBeUndefined();

    const host = await client.hosts.list();
    const hostSeries = await client.hosts.metrics(host.items[0]!.name);
    const latest = hostSeries.samples.at(-1);
    expect(latest?.memoryTotalBytes).toBeGreaterThan(0);
    expect(latest?.diskFreeBytes).toBeGreaterThan(0);
  }, 240_000);
});
