import type { LiveEvent, LiveEventSubject, LiveEventType, MetricsSampleEvent } from '@novacron/api';
import type { Clock } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';
import type { MetricsService, MetricsSampleNotice } from './metrics.js';

/** The `data` a live event of type `T` carries. */
export type LiveEventData<T extends LiveEventType> = Extract<LiveEvent, { type: T }>['data'];

/**
 * The in-process bus of live events (docs/adr/0015-live-events.md): measurements and progress
 * that go to the event stream's current subscribers and are never stored, numbered or replayed.
 */
export class LiveEvents {
  readonly #listeners = new Set<(event: LiveEvent) => void>();

  constructor(
    private readonly clock: Clock,
    private readonly logger?: Logger,
  ) {}

  /**
   * Sends a live event to every current subscriber whose filter selects `type`; returns at once
   * (a slow subscriber drops it, never the publisher). `project` is the VM's project, null for a
   * host; `at` defaults to now.
   */
  publish<T extends LiveEventType>(
    type: T,
    subject: LiveEventSubject,
    data: LiveEventData<T>,
    options: { project?: string | null; at?: string } = {},
  ): void {
    if (this.#listeners.size === 0) return;
    const event = {
      type,
      at: options.at ?? this.clock.now().toISOString(),
      project: options.project ?? null,
      subject,
      data,
    } as LiveEvent;
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger?.error({ err: error, type }, 'live event listener failed');
      }
    }
  }

  /** Whether anyone listens: a publisher may skip building an event nobody would receive. */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  subscribe(listener: (event: LiveEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/**
 * Publishes each new metrics sample as a `metrics.sample` live event, named after its VM or host.
 * The names are read from the store only while someone listens.
 */
export function publishMetricsSamples(
  metrics: Pick<MetricsService, 'onSample'>,
  live: LiveEvents,
  store: Pick<Store, 'vms' | 'hosts'>,
  logger?: Logger,
): () => void {
  const publish = async (notice: MetricsSampleNotice): Promise<void> => {
    const options = { at: notice.sample.at };
    if (notice.kind === 'vm') {
      const vm = await store.vms.get(undefined, notice.id);
      // A VM deleted since the sample was taken has nobody left to show it to.
      if (vm === undefined) return;
      const subject = { kind: 'vm' as const, id: vm.id, name: vm.name };
      live.publish('metrics.sample', subject, notice.sample, { ...options, project: vm.project });
      return;
    }
    const host = await store.hosts.get(notice.id);
    if (host === undefined) return;
    const data: MetricsSampleEvent['data'] = notice.sample;
    live.publish('metrics.sample', { kind: 'host', id: host.id, name: host.name }, data, options);
  };
  return metrics.onSample((notice) => {
    if (!live.listening) return;
    publish(notice).catch((error: unknown) =>
      logger?.warn({ err: error }, 'metrics sample not published'),
    );
  });
}
