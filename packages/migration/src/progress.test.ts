import type { AgentMigrationStatus, MigrationPlan } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import { migrationResult, progressEvent, progressPercent } from './progress.js';

const MiB = 1024 * 1024;

describe('progressPercent', () => {
  it('is the share of RAM no longer left to send, below 100 until completed', () => {
    const at = (remaining: number, status: AgentMigrationStatus['status'] = 'active') =>
      progressPercent({ status, remainingBytes: remaining * MiB, totalBytes: 256 * MiB });
    expect(at(256)).toBe(0);
    expect(at(192)).toBe(25);
    expect(at(0)).toBe(99);
    expect(at(0, 'completed')).toBe(100);
    expect(progressPercent({ status: 'completed' })).toBe(100);
    expect(progressPercent({ status: 'setup' })).toBe(0);
    expect(progressPercent({ status: 'active' })).toBeNull();
    // A remainder above the total (a sync added more than was sent) never reads negative.
    expect(at(300)).toBe(0);
  });
});

describe('progressEvent', () => {
  it('carries the reading and the context', () => {
    const ctx = {
      operation: 'op-1',
      vm: 'vm-1',
      from: 'h1',
      to: 'h2',
      strategy: 'precopy',
      phase: 'transferring',
    } as const;
    expect(
      progressEvent(ctx, {
        status: 'active',
        transferredBytes: 10,
        remainingBytes: 5,
        iteration: 2,
      }),
    ).toEqual({
      ...ctx,
      transferredBytes: 10,
      remainingBytes: 5,
      totalBytes: 0,
      dirtyRateBytes: 0,
      iteration: 2,
      expectedDowntimeMs: null,
    });
  });
});

describe('migrationResult', () => {
  const plan: Pick<MigrationPlan, 'from' | 'to' | 'predictions' | 'planningTimeMs'> = {
    from: 'h1',
    to: 'h2',
    planningTimeMs: 1200,
    predictions: [
      { strategy: 'precopy', converges: true, totalTimeMs: 900, downtimeMs: 3, reason: 'r' },
      { strategy: 'postcopy', converges: true, totalTimeMs: 950, downtimeMs: 1, reason: 'r' },
    ],
  };
  const final: AgentMigrationStatus = {
    status: 'completed',
    totalTimeMs: 670,
    downtimeMs: 2,
    setupTimeMs: 15,
    transferredBytes: 40 * MiB,
  };

  it("takes QEMU's figures and the plan's prediction for the strategy that ran", () => {
    expect(
      migrationResult(final, plan, { strategy: 'postcopy', escalated: null, tls: true }),
    ).toEqual({
      from: 'h1',
      to: 'h2',
      strategy: 'postcopy',
      escalated: null,
      totalTimeMs: 670,
      downtimeMs: 2,
      setupTimeMs: 15,
      planningTimeMs: 1200,
      bytesTransferred: 40 * MiB,
      predicted: { totalTimeMs: 950, downtimeMs: 1 },
      tls: true,
    });
    expect(
      migrationResult(final, plan, { strategy: 'autoconverge', escalated: 'throttle', tls: false })
        .predicted,
    ).toEqual({ totalTimeMs: null, downtimeMs: null });
  });

  it('invents no figure and refuses an unfinished run', () => {
    const noDowntime = { ...final, downtimeMs: undefined };
    expect(() =>
      migrationResult(noDowntime, plan, { strategy: 'precopy', escalated: null, tls: true }),
    ).toThrow(/no downtime/);
    expect(() =>
      migrationResult({ status: 'failed', error: 'boom' }, plan, {
        strategy: 'precopy',
        escalated: null,
        tls: true,
      }),
    ).toThrow(/ended failed: boom/);
  });
});
