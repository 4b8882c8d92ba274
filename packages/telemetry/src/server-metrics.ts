import { Counter, Gauge, Registry, type Histogram } from 'prom-client';
import { RequestHistogram } from './request-histogram.js';

/** Metric names of the server's `/metrics`. */
export const SERVER_METRIC_NAMES = {
  apiRequestSeconds: 'novacron_api_request_duration_seconds',
  logins: 'novacron_logins_total',
  operations: 'novacron_operations_total',
  vms: 'novacron_vms',
  hosts: 'novacron_hosts',
} as const;

/** Login outcomes counted by `novacron_logins_total{result}`. */
export type LoginResult =
  'success' | 'invalid_credentials' | 'second_factor_required' | 'invalid_second_factor' | 'locked';

/** What the registry reads at each scrape: counts by state, straight from the store. */
export interface StateCounts {
  vmsByState(): Promise<Record<string, number>>;
  hostsByState(): Promise<Record<string, number>>;
}

// Latency buckets from 0.5 ms to 10 s: a GET by id is well under a millisecond in the process.
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * The control plane's Prometheus registry (never the global one: tests build several servers
 * in one process). Requests are labelled by route pattern, never by URL, so ids do not blow up
 * the series count; VM and host gauges are counted at scrape time, so they are never stale.
 */
export class ServerMetricsRegistry {
  readonly registry = new Registry();
  private readonly requests: RequestHistogram;
  private readonly logins: Counter<'result'>;
  private readonly operations: Counter<'kind' | 'result'>;

  constructor(counts: StateCounts) {
    const registers = [this.registry];
    const n = SERVER_METRIC_NAMES;
    this.requests = new RequestHistogram(
      n.apiRequestSeconds,
      'API requests by method, route pattern and status, and how long they took',
      BUCKETS,
    );
    // The registry formats any object with a name, help, type and get(), like its own metrics.
    this.registry.registerMetric(this.requests as unknown as Histogram);
    this.logins = new Counter({
      name: n.logins,
      help: 'Login attempts by result',
      labelNames: ['result'] as const,
      registers,
    });
    this.operations = new Counter({
      name: n.operations,
      help: 'Finished operations by kind and result (succeeded, failed, cancelled)',
      labelNames: ['kind', 'result'] as const,
      registers,
    });
    const byState = (
      name: string,
      help: string,
      read: () => Promise<Record<string, number>>,
    ): Gauge<'state'> =>
      new Gauge({
        name,
        help,
        labelNames: ['state'] as const,
        registers,
        async collect() {
          const counts = await read();
          this.reset();
          for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
        },
      });
    byState(n.vms, 'VMs by state', () => counts.vmsByState());
    byState(n.hosts, 'Hosts by state', () => counts.hostsByState());
  }

  recordRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.observe(method, route, status, seconds);
  }

  recordLogin(result: LoginResult): void {
    this.logins.inc({ result });
  }

  recordOperation(kind: string, result: string): void {
    this.operations.inc({ kind, result });
  }

  /** The Prometheus text exposition. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
