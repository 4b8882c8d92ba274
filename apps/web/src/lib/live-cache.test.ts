import type { Event, Operation, Vm } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import {
  appendSample,
  changesOf,
  MAX_SAMPLES,
  mergeSeries,
  patchPage,
  ratesOf,
  routeLive,
} from './live-cache';

const vm = { id: 'vm1', name: 'web', state: 'running' } as Vm;

function event(type: Event['type'], kind: string, data: Record<string, unknown>): Event {
  return {
    seq: 7,
    type,
    time: '2026-01-01T00:00:00.000Z',
    project: 'default',
    subject: { kind, id: String(data.id) },
    data,
  };
}

describe('changesOf', () => {
  it('puts an updated VM in its own cache and in the list pages that hold it', () => {
    expect(changesOf(event('vm.updated', 'vm', vm))).toEqual([
      { kind: 'set', key: ['vm', 'vm1'], value: vm },
      { kind: 'patch-lists', prefix: 'vms', id: 'vm1', value: vm },
      { kind: 'invalidate', prefix: 'vms' },
    ]);
  });

  it('drops a deleted VM and refreshes the lists', () => {
    expect(changesOf(event('vm.deleted', 'vm', { id: 'vm1', name: 'web' }))).toEqual([
      { kind: 'remove', key: ['vm', 'vm1'] },
      { kind: 'invalidate', prefix: 'vms' },
    ]);
  });

  it('refreshes the lists of operations only when one finishes', () => {
    const running = { id: 'op1', status: 'running' } as Operation;
    const done = { id: 'op1', status: 'succeeded' } as Operation;
    const kinds = (op: Operation) =>
      changesOf(event('operation.updated', 'operation', op)).map((c) => c.kind);
    expect(kinds(running)).toEqual(['set', 'patch-lists']);
    expect(kinds(done)).toEqual(['set', 'patch-lists', 'invalidate']);
  });
});

describe('patchPage', () => {
  it('replaces the item with the same id, and leaves a page without it as it was', () => {
    const page = { items: [vm, { ...vm, id: 'vm2' }], nextCursor: null };
    const updated = { ...vm, state: 'stopped' } as Vm;
    expect(patchPage(page, 'vm1', updated)?.items[0]).toBe(updated);
    expect(patchPage(page, 'vm9', updated)).toBe(page);
    expect(patchPage(undefined, 'vm1', updated)).toBeUndefined();
  });
});

describe('series', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

  it('appends newer samples only, and keeps at most MAX_SAMPLES', () => {
    let series: { at: string }[] = [];
    for (let s = 0; s < MAX_SAMPLES + 5; s++) series = appendSample(series, { at: at(s) });
    expect(series).toHaveLength(MAX_SAMPLES);
    expect(series.at(-1)?.at).toBe(at(MAX_SAMPLES + 4));
    expect(appendSample(series, { at: at(3) })).toEqual(series);
  });

  it('merges fetched and live samples once each, in time order', () => {
    const merged = mergeSeries([{ at: at(1) }, { at: at(2) }], [{ at: at(2) }, { at: at(3) }]);
    expect(merged.map((s) => s.at)).toEqual([at(1), at(2), at(3)]);
  });

  it('turns cumulative counters into rates, with no rate across a counter reset', () => {
    const samples = [
      { at: at(0), bytes: 0 },
      { at: at(2), bytes: 2048 },
      { at: at(4), bytes: 100 },
      { at: at(5), bytes: 1124 },
    ];
    expect(ratesOf(samples, (s) => (s as (typeof samples)[number]).bytes)).toEqual([
      null,
      1024,
      null,
      1024,
    ]);
  });

  it('routes live events to a series or a migration', () => {
    const sample = { at: at(1), load1: 0, load5: 0, load15: 0 };
    expect(
      routeLive({
        type: 'metrics.sample',
        at: at(1),
        project: null,
        subject: { kind: 'host', id: 'h1', name: 'host1' },
        data: sample,
      }),
    ).toEqual({ kind: 'sample', key: 'host:h1', sample });
  });
});
