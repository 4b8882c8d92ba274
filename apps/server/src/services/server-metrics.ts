import { TERMINAL_OPERATION_STATUSES, type OperationStatus } from '@novacron/api';
import type { Store } from '@novacron/store';
import { ServerMetricsRegistry } from '@novacron/telemetry';

/**
 * The server's /metrics registry over `store`: VMs and hosts counted by state at each scrape,
 * and each operation counted once it finishes (from the store's committed events).
 */
export function serverMetricsOf(store: Store): {
  registry: ServerMetricsRegistry;
  stop: () => void;
} {
  const registry = new ServerMetricsRegistry({
    vmsByState: () => store.vms.countByState(),
    async hostsByState() {
      const counts: Record<string, number> = {};
      for (const host of await store.hosts.list())
        counts[host.state] = (counts[host.state] ?? 0) + 1;
      return counts;
    },
  });
  const stop = store.onEvent((events) => {
    for (const event of events) {
      if (event.type !== 'operation.updated') continue;
      const { kind, status } = event.data as { kind?: unknown; status?: unknown };
      if (
        typeof kind === 'string' &&
        TERMINAL_OPERATION_STATUSES.includes(status as OperationStatus)
      ) {
        registry.recordOperation(kind, status as string);
      }
    }
  });
  return { registry, stop };
}
