import type { HostMetricsSample, Operation, Vm, VmMetricsSample } from '@novacron/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing.js';
import { MetricsService } from './metrics.js';

// Recent times: the service drops series older than its retention (an hour) against the clock.
const T0 = Date.now() - 60_000;
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const host = (seconds: number): HostMetricsSample => ({
  at: at(seconds),
  load1: 0.5,
  load5: 0.4,
  load15: 0.3,
  cpuPercent: seconds,
});
const vm = (vmId: string, seconds: number): VmMetricsSample => ({
  vmId,
  at: at(seconds),
  cpuPercent: 10,
  rssBytes: 1000,
  memoryBytes: 128 * 1024 * 1024,
});

describe('MetricsService', () => {
  it('keeps a bounded series per VM and host, ignoring a sample sent again', () => {
    const metrics = new MetricsService({ capacity: 3, now: () => T0 + 100_000 });
    const seen: string[] = [];
    metrics.onSample((notice) => seen.push(`${notice.kind}:${notice.id}`));
    for (const s of [0, 5, 5, 10, 15]) {
      metrics.record('h1', { host: host(s), vms: [vm('vm-1', s)] });
    }
    expect(metrics.hostSamples('h1').map((sample) => sample.at)).toEqual([at(5), at(10), at(15)]);
    expect(metrics.vmSamples('vm-1').map((sample) => sample.at)).toEqual([at(5), at(10), at(15)]);
    expect(seen).toHaveLength(8);
    expect(metrics.vmSamples('vm-1', at(5)).map((sample) => sample.at)).toEqual([at(10), at(15)]);
    expect(metrics.vmSamples('other')).toEqual([]);
  });

  it('drops the series of a VM without samples for the retention time', () => {
    let now = T0;
    const metrics = new MetricsService({ retentionMs: 60_000, now: () => now });
    metrics.record('h1', { host: host(0), vms: [vm('gone', 0), vm('kept', 0)] });
    now = T0 + 120_000;
    metrics.record('h1', { host: host(120), vms: [vm('kept', 120)] });
    expect(metrics.vmSamples('gone')).toEqual([]);
    expect(metrics.vmSamples('kept')).toHaveLength(2);
  });
});

describe('GET /api/v1/{vms,hosts}/{idOrName}/metrics', () => {
  let server: TestServer;

  beforeEach(async () => {
    server = await startTestServer();
  }, 30_000);

  afterEach(async () => {
    await server.close();
  });

  it('returns the series by name or id, filtered by since', async () => {
    const { app, auth } = server;
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/vms',
      headers: auth,
      payload: { name: 'demo', image: 'tiny' },
    });
    const operation = created.json<Operation>();
    await app.inject({ url: `/api/v1/operations/${operation.id}/wait?timeout=10`, headers: auth });
    const demo = (await app.inject({ url: '/api/v1/vms/demo', headers: auth })).json<Vm>();
    const h1 = await server.store.hosts.get('h1');
    server.metrics.record(h1!.id, { host: host(0), vms: [vm(demo.id, 0)] });
    server.metrics.record(h1!.id, { host: host(5), vms: [vm(demo.id, 5)] });

    const vmReply = await app.inject({ url: '/api/v1/vms/demo/metrics', headers: auth });
    expect(vmReply.statusCode).toBe(200);
    expect(vmReply.json()).toEqual({ vmId: demo.id, samples: [vm(demo.id, 0), vm(demo.id, 5)] });
    const since = await app.inject({
      url: `/api/v1/vms/${demo.id}/metrics?since=${encodeURIComponent(at(0))}`,
      headers: auth,
    });
    expect(since.json()).toEqual({ vmId: demo.id, samples: [vm(demo.id, 5)] });

    const hostReply = await app.inject({ url: '/api/v1/hosts/h1/metrics', headers: auth });
    expect(hostReply.json()).toEqual({ hostId: h1!.id, samples: [host(0), host(5)] });
  });

  it('refuses an unknown VM or host and a since that is not a time', async () => {
    const { app, auth } = server;
    const noVm = await app.inject({ url: '/api/v1/vms/nope/metrics', headers: auth });
    expect([noVm.statusCode, noVm.json<{ error: { code: string } }>().error.code]).toEqual([
      404,
      'VM_NOT_FOUND',
    ]);
    const noHost = await app.inject({ url: '/api/v1/hosts/nope/metrics', headers: auth });
    expect([noHost.statusCode, noHost.json<{ error: { code: string } }>().error.code]).toEqual([
      404,
      'HOST_NOT_FOUND',
    ]);
    const bad = await app.inject({
      url: '/api/v1/hosts/h1/metrics?since=yesterday',
      headers: auth,
    });
    expect(bad.statusCode).toBe(400);
    const unauthenticated = await app.inject({ url: '/api/v1/hosts/h1/metrics' });
    expect(unauthenticated.statusCode).toBe(401);
  });
});
