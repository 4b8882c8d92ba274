import type { Operation } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import { elapsedMs, isActive, laterOf, operationHref, targetHref } from './operations';

function operation(status: Operation['status']): Operation {
  return {
    id: 'op1',
    kind: 'image.import',
    status,
    phase: 'downloading disk.qcow2',
    progress: 40,
    target: { type: 'image', id: 'img1', name: 'debian' },
    result: null,
    metadata: null,
    error: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:05.000Z',
  };
}

describe('operations in the dashboard', () => {
  it('counts pending and running ones as active, the others as finished', () => {
    expect(isActive(operation('pending'))).toBe(true);
    expect(isActive(operation('running'))).toBe(true);
    for (const status of ['succeeded', 'failed', 'cancelled'] as const) {
      expect(isActive(operation(status))).toBe(false);
    }
  });

  it('times a running one until now and a finished one until its last update', () => {
    const now = Date.parse('2026-01-01T00:01:00.000Z');
    expect(elapsedMs(operation('running'), now)).toBe(60_000);
    expect(elapsedMs(operation('succeeded'), now)).toBe(5_000);
  });

  it('links to the target by kind, ids escaped', () => {
    expect(targetHref({ type: 'vm', id: 'a b', name: 'x' })).toBe('/vms/view?id=a%20b');
    expect(targetHref({ type: 'host', id: 'h1', name: 'x' })).toBe('/hosts/view?id=h1');
    expect(targetHref({ type: 'image', id: 'i1', name: 'x' })).toBe('/images');
    expect(operationHref({ id: 'op/1' })).toBe('/operations/view?id=op%2F1');
  });

  it('keeps the later copy of an operation, so a late answer cannot undo an event', () => {
    const cancelled = { ...operation('cancelled'), updatedAt: '2026-01-01T00:00:06.000Z' };
    const answer = operation('running');
    expect(laterOf(cancelled, answer)).toBe(cancelled);
    expect(laterOf(answer, cancelled)).toBe(cancelled);
    expect(laterOf(undefined, answer)).toBe(answer);
  });
});
