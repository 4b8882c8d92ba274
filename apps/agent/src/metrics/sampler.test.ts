import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentMetricsRegistry, METRIC_NAMES } from '@novacron/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildAgentApp } from '../app.js';
import { ImageCache } from '../image-cache.js';
import { agentPaths } from '../paths.js';
import { VmManager } from '../vm-manager.js';
import { VmStateDir } from '../vm-state-dir.js';
import { MetricsSampler } from './sampler.js';

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
const MEMINFO = 'MemTotal:        4000000 kB\nMemAvailable:    3000000 kB\n';

let dir: string;
let procDir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-metrics-'));
  procDir = join(dir, 'proc');
  await mkdir(procDir, { recursive: true });
  await writeFile(join(procDir, 'meminfo'), MEMINFO);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sampler(registry: AgentMetricsRegistry, proc = procDir): MetricsSampler {
  return new MetricsSampler({
    intervalMs: 60_000,
    vms: () => [],
    dataDir: dir,
    registry,
    logger: silent,
    procDir: proc,
  });
}

describe('MetricsSampler, host', () => {
  it('measures CPU % from two readings, memory, load and the data directory disk', async () => {
    const registry = new AgentMetricsRegistry('h');
    const metrics = sampler(registry);
    await writeFile(join(procDir, 'stat'), 'cpu  100 0 100 700 100 0 0 0 0 0\n');
    const first = await metrics.sample();
    // One reading gives no CPU %: it is absent, not zero.
    expect(first.host.cpuPercent).toBeUndefined();
    expect(first.host).toMatchObject({
      memoryUsedBytes: 1_000_000 * 1024,
      memoryTotalBytes: 4_000_000 * 1024,
    });
    expect(first.host.diskFreeBytes).toBeGreaterThan(0);
    expect(first.host.diskUsedBytes).toBeGreaterThan(0);
    expect(first.host.load1).toBeGreaterThanOrEqual(0);
    expect(first.vms).toEqual([]);

    await writeFile(join(procDir, 'stat'), 'cpu  400 0 200 1000 100 0 0 0 0 0\n');
    const second = await metrics.sample();
    expect(second.host.cpuPercent).toBeCloseTo((400 / 700) * 100, 5);

    const { body } = await registry.text();
    expect(body).toMatch(new RegExp(`^${METRIC_NAMES.hostCpuPercent}\\{host="h"\\} 57\\.14`, 'm'));
    expect(body).toMatch(
      new RegExp(`^${METRIC_NAMES.hostMemoryTotalBytes}\\{host="h"\\} 4096000000$`, 'm'),
    );
    expect(body).toMatch(new RegExp(`^${METRIC_NAMES.hostLoad}\\{host="h",window="5m"\\} `, 'm'));
  });

  it('leaves out what it cannot read', async () => {
    const registry = new AgentMetricsRegistry('h');
    const { host } = await sampler(registry, join(dir, 'missing')).sample();
    expect(host.cpuPercent).toBeUndefined();
    expect(host.memoryUsedBytes).toBeUndefined();
    expect(host.memoryTotalBytes).toBeUndefined();
    const { body } = await registry.text();
    expect(body).not.toContain(`${METRIC_NAMES.hostMemoryTotalBytes}{`);
  });

  it('samples on its interval until stopped', async () => {
    const registry = new AgentMetricsRegistry('h');
    await writeFile(join(procDir, 'stat'), 'cpu  100 0 100 700 100 0 0 0 0 0\n');
    const metrics = new MetricsSampler({
      intervalMs: 50,
      vms: () => [],
      dataDir: dir,
      registry,
      logger: silent,
      procDir,
    });
    let samples = 0;
    metrics.onSample(() => samples++);
    metrics.start();
    await new Promise((resolve) => setTimeout(resolve, 400));
    await metrics.stop();
    const seen = samples;
    expect(seen).toBeGreaterThanOrEqual(2);
    expect(metrics.latest?.host.memoryTotalBytes).toBe(4_000_000 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(samples).toBe(seen);
  });
});

describe('agent GET /metrics', () => {
  it('serves the registry in the Prometheus text format', async () => {
    const registry = new AgentMetricsRegistry('h');
    registry.recordVm({ vmId: 'vm-1', cpuSeconds: 2.5, memoryBytes: 128 * 1024 * 1024 });
    registry.recordVm({
      vmId: 'vm-1',
      cpuSeconds: 4,
      cpuPercent: 30,
      memoryBytes: 128 * 1024 * 1024,
    });
    const vms = new VmManager({
      stateDir: new VmStateDir(agentPaths(dir)),
      images: new ImageCache({ dir: join(dir, 'images'), logger: silent }),
      accelerator: 'tcg',
      logger: silent,
    });
    const app = buildAgentApp({
      vms,
      hostInfo: {
        name: 'h',
        cpus: 2,
        memoryMiB: 2048,
        accelerator: 'tcg',
        acceleratorReason: 'test',
        qemuVersion: '7.2.22',
      },
      logger: silent,
      metrics: registry,
    });
    try {
      const reply = await app.inject({ method: 'GET', url: '/metrics' });
      expect(reply.statusCode).toBe(200);
      expect(reply.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(reply.body).toContain(`# TYPE ${METRIC_NAMES.vmCpuSeconds} counter`);
      expect(reply.body).toContain(`${METRIC_NAMES.vmCpuSeconds}{vm="vm-1"} 4`);
      expect(reply.body).toContain(`${METRIC_NAMES.vmCpuPercent}{vm="vm-1"} 30`);
      // Not read: absent rather than zero.
      expect(reply.body).not.toContain(`${METRIC_NAMES.vmRssBytes}{`);
      registry.keepVms(new Set());
      const after = await app.inject({ method: 'GET', url: '/metrics' });
      expect(after.body).not.toContain('vm="vm-1"');
    } finally {
      await app.close();
      await vms.close();
    }
  });
});
