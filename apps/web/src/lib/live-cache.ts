import {
  TERMINAL_OPERATION_STATUSES,
  type Event,
  type HostMetricsSample,
  type LiveEvent,
  type MigrationProgress,
  type Operation,
  type VmMetricsSample,
} from '@novacron/api';

/**
 * How a stored event changes what the pages hold, without React or the query library: the
 * event hook applies these to the TanStack Query caches. Query keys: `['vm', id]`, `['vms', ...]`
 * (pages of VMs), `['host', id]`, `['hosts', ...]`, `['operation', id]`, `['operations', ...]`.
 */
export type CacheChange =
  | { kind: 'set'; key: readonly [string, string]; value: unknown }
  | { kind: 'patch-lists'; prefix: string; id: string; value: unknown }
  | { kind: 'remove'; key: readonly [string, string] }
  | { kind: 'invalidate'; prefix: string };

interface Identified {
  id: string;
}

/** A page of a list, as the API answers it. */
export interface ListPage<T> {
  items: T[];
  nextCursor: string | null;
}

export function changesOf(event: Event): CacheChange[] {
  switch (event.type) {
    case 'vm.created':
      return [
        { kind: 'set', key: ['vm', event.subject.id], value: event.data },
        { kind: 'invalidate', prefix: 'vms' },
      ];
    case 'vm.updated':
      return [
        { kind: 'set', key: ['vm', event.subject.id], value: event.data },
        { kind: 'patch-lists', prefix: 'vms', id: event.subject.id, value: event.data },
        // A VM's state or host moves it between filtered lists and host pages.
        { kind: 'invalidate', prefix: 'vms' },
      ];
    case 'vm.deleted':
      return [
        { kind: 'remove', key: ['vm', event.subject.id] },
        { kind: 'invalidate', prefix: 'vms' },
      ];
    case 'host.updated':
      return [
        { kind: 'set', key: ['host', event.subject.id], value: event.data },
        { kind: 'patch-lists', prefix: 'hosts', id: event.subject.id, value: event.data },
      ];
    case 'operation.created':
      return [
        { kind: 'set', key: ['operation', event.subject.id], value: event.data },
        { kind: 'invalidate', prefix: 'operations' },
      ];
    case 'operation.updated': {
      const operation = event.data as Operation;
      const changes: CacheChange[] = [
        { kind: 'set', key: ['operation', event.subject.id], value: operation },
        { kind: 'patch-lists', prefix: 'operations', id: event.subject.id, value: operation },
      ];
      // A finished operation leaves the lists of active ones.
      if (TERMINAL_OPERATION_STATUSES.includes(operation.status)) {
        changes.push({ kind: 'invalidate', prefix: 'operations' });
      }
      return changes;
    }
    case 'audit.recorded':
      return [{ kind: 'invalidate', prefix: 'audit' }];
  }
}

/** The page with the item of this id replaced; the same page when it holds no such item. */
export function patchPage<T extends Identified>(
  page: ListPage<T> | undefined,
  id: string,
  value: T,
): ListPage<T> | undefined {
  if (page === undefined || !page.items.some((item) => item.id === id)) return page;
  return { ...page, items: page.items.map((item) => (item.id === id ? value : item)) };
}

/** Samples a chart keeps per VM or host (at the default 5 s interval: 10 minutes). */
export const MAX_SAMPLES = 120;

export type Sample = VmMetricsSample | HostMetricsSample;

/**
 * Appends a sample to a series kept oldest first, once (by time), within MAX_SAMPLES. Returns a
 * new array so that React sees the change.
 */
export function appendSample<T extends { at: string }>(series: readonly T[], sample: T): T[] {
  const last = series.at(-1);
  if (last !== undefined && Date.parse(last.at) >= Date.parse(sample.at)) return [...series];
  const next = [...series, sample];
  return next.length > MAX_SAMPLES ? next.slice(next.length - MAX_SAMPLES) : next;
}

/** Merges a fetched series with the samples that came live meanwhile, in time order, once each. */
export function mergeSeries<T extends { at: string }>(fetched: readonly T[], live: readonly T[]) {
  const byTime = new Map<string, T>();
  for (const sample of [...fetched, ...live]) byTime.set(sample.at, sample);
  const merged = [...byTime.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return merged.length > MAX_SAMPLES ? merged.slice(merged.length - MAX_SAMPLES) : merged;
}

/** Where a live event goes: a series key (`vm:<id>`, `host:<id>`) or a migration's operation. */
export function routeLive(
  event: LiveEvent,
):
  | { kind: 'sample'; key: string; sample: Sample }
  | { kind: 'progress'; operation: string; progress: MigrationProgress & { at: string } } {
  switch (event.type) {
    case 'metrics.sample':
      return {
        kind: 'sample',
        key: `${event.subject.kind}:${event.subject.id}`,
        sample: event.data,
      };
    case 'migration.progress':
      return {
        kind: 'progress',
        operation: event.data.operation,
        progress: { ...event.data, at: event.at },
      };
  }
}

/** Per-second rates between consecutive cumulative counters (disk and NIC bytes). */
export function ratesOf(
  samples: readonly { at: string }[],
  counter: (sample: { at: string }) => number | undefined,
): (number | null)[] {
  return samples.map((sample, index) => {
    const previous = samples[index - 1];
    if (previous === undefined) return null;
    const a = counter(previous);
    const b = counter(sample);
    const seconds = (Date.parse(sample.at) - Date.parse(previous.at)) / 1000;
    // Counters restart with each QEMU process: a drop is a restart, not a negative rate.
    if (a === undefined || b === undefined || seconds <= 0 || b < a) return null;
    return (b - a) / seconds;
  });
}
