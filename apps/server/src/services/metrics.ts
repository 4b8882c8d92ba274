import type { HeartbeatMetrics, HostMetricsSample, VmMetricsSample } from '@novacron/api';

/** One hour of samples at the default 5 s interval. */
export const DEFAULT_METRICS_CAPACITY = 720;

/** A bounded series, oldest first: past `capacity` the oldest sample goes. */
class Series<T extends { at: string }> {
  private readonly samples: T[] = [];

  constructor(private readonly capacity: number) {}

  /** Appends a sample newer than the last one; heartbeats repeat a sample until the next. */
  add(sample: T): boolean {
    const last = this.samples.at(-1);
    if (last !== undefined && Date.parse(sample.at) <= Date.parse(last.at)) return false;
    this.samples.push(sample);
    if (this.samples.length > this.capacity)
      this.samples.splice(0, this.samples.length - this.capacity);
    return true;
  }

  get lastAtMs(): number {
    const last = this.samples.at(-1);
    return last === undefined ? 0 : Date.parse(last.at);
  }

  since(sinceMs: number | undefined): T[] {
    if (sinceMs === undefined) return [...this.samples];
    return this.samples.filter((sample) => Date.parse(sample.at) > sinceMs);
  }
}

export interface MetricsServiceOptions {
  /** Samples kept per VM and per host. */
  capacity?: number;
  /** A series with no new sample for this long is dropped (its VM or host is gone). */
  retentionMs?: number;
  now?: () => number;
}

/**
 * Recent metrics per VM and per host, in memory only (docs/adr/0011-metrics.md): they come
 * with the agents' heartbeats and are lost on a server restart, which the next samples refill.
 */
export class MetricsService {
  private readonly vms = new Map<string, Series<VmMetricsSample>>();
  private readonly hosts = new Map<string, Series<HostMetricsSample>>();
  private readonly listeners = new Set<(sample: MetricsSampleNotice) => void>();
  private readonly capacity: number;
  private readonly retentionMs: number;
  private readonly now: () => number;

  constructor(options: MetricsServiceOptions = {}) {
    this.capacity = options.capacity ?? DEFAULT_METRICS_CAPACITY;
    this.retentionMs = options.retentionMs ?? 60 * 60 * 1000;
    this.now = options.now ?? Date.now;
  }

  /** The samples of one heartbeat of host `hostId`; repeated samples are ignored. */
  record(hostId: string, metrics: HeartbeatMetrics): void {
    const host = this.series(this.hosts, hostId);
    if (host.add(metrics.host)) this.notify({ kind: 'host', id: hostId, sample: metrics.host });
    for (const sample of metrics.vms) {
      if (this.series(this.vms, sample.vmId).add(sample)) {
        this.notify({ kind: 'vm', id: sample.vmId, sample });
      }
    }
    this.prune();
  }

  vmSamples(vmId: string, since?: string): VmMetricsSample[] {
    return this.vms.get(vmId)?.since(since === undefined ? undefined : Date.parse(since)) ?? [];
  }

  hostSamples(hostId: string, since?: string): HostMetricsSample[] {
    return this.hosts.get(hostId)?.since(since === undefined ? undefined : Date.parse(since)) ?? [];
  }

  /** Every new sample, in process (the `metrics.sample` notice; never stored). */
  onSample(listener: (notice: MetricsSampleNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private series<T extends { at: string }>(map: Map<string, Series<T>>, id: string): Series<T> {
    let series = map.get(id);
    if (series === undefined) {
      series = new Series<T>(this.capacity);
      map.set(id, series);
    }
    return series;
  }

  private notify(notice: MetricsSampleNotice): void {
    for (const listener of this.listeners) listener(notice);
  }

  private prune(): void {
    const oldest = this.now() - this.retentionMs;
    for (const map of [this.vms, this.hosts] as Map<string, Series<{ at: string }>>[]) {
      for (const [id, series] of map) if (series.lastAtMs < oldest) map.delete(id);
    }
  }
}

export type MetricsSampleNotice =
  | { kind: 'vm'; id: string; sample: VmMetricsSample }
  | { kind: 'host'; id: string; sample: HostMetricsSample };
