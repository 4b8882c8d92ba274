import type { AgentMigrationSettings, AgentMigrationStatus } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_STALL_POLICY,
  observeMigration,
  stallPolicyFor,
  startStallWatch,
  type StallState,
  type StallVerdict,
} from './stall.js';

const MiB = 1024 * 1024;
type Settings = Pick<AgentMigrationSettings, 'strategy' | 'postcopyReady'>;

/** Feeds readings one second apart; returns every verdict and the final state. */
function feed(
  settings: Settings,
  readings: Partial<AgentMigrationStatus>[],
  stepMs = 1000,
  state: StallState = startStallWatch(settings, 0),
) {
  const verdicts: StallVerdict[] = [];
  readings.forEach((r, i) => {
    const out = observeMigration(state, { status: 'active', ...r }, (i + 1) * stepMs);
    state = out.state;
    verdicts.push(out.verdict);
  });
  return {
    verdicts,
    state,
    actions: verdicts.map((v) => ('to' in v ? `${v.action}:${v.to}` : v.action)),
  };
}

/** Pre-copy passes that each end with the same remainder: the guest outruns the link. */
const stuck = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    iteration: from + i,
    remainingBytes: 200 * MiB,
    transferredBytes: (1000 + 100 * i) * MiB,
  }));

describe('observeMigration', () => {
  it('continues while the remainder keeps shrinking', () => {
    const readings = [900, 700, 500, 300, 200, 100, 50, 20].map((m, i) => ({
      iteration: 1 + i,
      remainingBytes: m * MiB,
    }));
    const { actions } = feed({ strategy: 'precopy', postcopyReady: true }, readings);
    expect(actions.every((a) => a === 'continue')).toBe(true);
  });

  it('counts only a new low: the remainder rising back at each dirty sync is not progress', () => {
    const readings = [1, 2, 3, 4, 5, 6, 7].flatMap((iteration) => [
      { iteration, remainingBytes: 300 * MiB },
      { iteration, remainingBytes: 200 * MiB },
    ]);
    const { actions } = feed({ strategy: 'precopy', postcopyReady: false }, readings);
    expect(actions.indexOf('give-up')).toBe(
      readings.findIndex((r) => r.iteration === 1 + DEFAULT_STALL_POLICY.windowIterations),
    );
  });

  it('switches to post-copy after N stalled syncs when ready, once, and is then silent', () => {
    const n = DEFAULT_STALL_POLICY.windowIterations;
    const { actions, state } = feed({ strategy: 'precopy', postcopyReady: true }, [
      ...stuck(2, n + 1),
      { status: 'postcopy-active', iteration: n + 3, remainingBytes: 200 * MiB },
      ...stuck(n + 3, 20).map((r) => ({ ...r, status: 'postcopy-active' as const })),
    ]);
    expect(actions.slice(0, n + 1)).toEqual([
      ...Array<string>(n).fill('continue'),
      'escalate:postcopy',
    ]);
    expect(actions.slice(n + 1).every((a) => a === 'continue')).toBe(true);
    expect(state.escalated).toBe('postcopy');
  });

  it('switches at once when QEMU measures the guest outrunning the stream after the first pass', () => {
    const outrun = { dirtyRateBytes: 140 * MiB, throughputMbps: 128 * 8.388608 };
    const { actions, verdicts } = feed({ strategy: 'precopy', postcopyReady: true }, [
      { iteration: 1, remainingBytes: 150 * MiB, transferredBytes: 100 * MiB, ...outrun },
      { iteration: 2, remainingBytes: 96 * MiB, transferredBytes: 300 * MiB, ...outrun },
      { iteration: 3, remainingBytes: 96 * MiB, transferredBytes: 400 * MiB, ...outrun },
    ]);
    expect(actions).toEqual(['continue', 'escalate:postcopy', 'continue']);
    expect((verdicts[1] as { reason: string }).reason).toMatch(/dirtying 140 MiB\/s/);
    // Slower than the stream, or not ready for post-copy: the usual window decides.
    const slower = { dirtyRateBytes: 60 * MiB, throughputMbps: 128 * 8.388608 };
    expect(
      feed({ strategy: 'precopy', postcopyReady: true }, [
        { iteration: 2, remainingBytes: 96 * MiB, transferredBytes: 300 * MiB, ...slower },
      ]).actions,
    ).toEqual(['continue']);
    expect(
      feed({ strategy: 'precopy', postcopyReady: false }, [
        { iteration: 2, remainingBytes: 96 * MiB, transferredBytes: 300 * MiB, ...outrun },
      ]).actions,
    ).toEqual(['continue']);
  });

  it('gives up on a stall with nothing to try', () => {
    const n = DEFAULT_STALL_POLICY.windowIterations;
    const { verdicts } = feed({ strategy: 'precopy', postcopyReady: false }, stuck(2, n + 1));
    expect(verdicts.at(-1)).toMatchObject({
      action: 'give-up',
      reason: expect.stringMatching(
        /has not shrunk by 10% in 5 dirty syncs; nothing left to try/,
      ) as string,
    });
  });

  it('raises the auto-converge throttle increment first, then post-copy, then gives up', () => {
    const n = DEFAULT_STALL_POLICY.windowIterations;
    const raises = DEFAULT_STALL_POLICY.maxThrottleRaises;
    const readings = stuck(2, (raises + 2) * n + 1).map((r) => ({ ...r, cpuThrottlePercent: 40 }));
    const { verdicts, state } = feed({ strategy: 'autoconverge', postcopyReady: true }, readings);
    const escalations = verdicts.filter((v) => v.action !== 'continue');
    expect(escalations.map((v) => ('to' in v ? v.to : v.action))).toEqual([
      'throttle',
      'throttle',
      'throttle',
      'postcopy',
      'give-up',
    ]);
    expect(
      escalations.flatMap((v) => ('cpuThrottleIncrement' in v ? [v.cpuThrottleIncrement] : [])),
    ).toEqual([20, 40, 80]);
    // Each escalation gets a full window before the next.
    expect(verdicts.findIndex((v) => v.action !== 'continue')).toBe(n);
    expect(state.escalated).toBe('postcopy');
  });

  it('does not raise a throttle that is already at its maximum', () => {
    const n = DEFAULT_STALL_POLICY.windowIterations;
    const readings = stuck(2, n + 1).map((r) => ({ ...r, cpuThrottlePercent: 99 }));
    const { verdicts } = feed({ strategy: 'autoconverge', postcopyReady: false }, readings);
    expect(verdicts.at(-1)?.action).toBe('give-up');
  });

  it('detects a stream that stopped moving within one pass by time', () => {
    const readings = Array.from({ length: 70 }, () => ({
      iteration: 1,
      remainingBytes: 700 * MiB,
    }));
    const { actions } = feed({ strategy: 'precopy', postcopyReady: true }, readings);
    // The first reading sets the low at t=1 s; the window is 60 s.
    expect(actions.indexOf('escalate:postcopy')).toBe(60);
  });

  it('gives up, never switching to post-copy, when the stream sent nothing in the window', () => {
    const readings = Array.from({ length: 70 }, () => ({
      iteration: 1,
      remainingBytes: 700 * MiB,
      transferredBytes: 300 * MiB,
    }));
    const { verdicts } = feed({ strategy: 'autoconverge', postcopyReady: true }, readings);
    expect(verdicts.filter((v) => v.action !== 'continue')[0]).toMatchObject({
      action: 'give-up',
      reason: expect.stringMatching(/in 60 s, and no bytes were sent meanwhile/) as string,
    });
  });

  it('gives up at the deadline, but not once in post-copy', () => {
    const slow = { ...DEFAULT_STALL_POLICY, deadlineMs: 10_000 };
    const start = startStallWatch({ strategy: 'precopy', postcopyReady: true }, 0, slow);
    const shrinking = Array.from({ length: 12 }, (_, i) => ({
      iteration: 1 + i,
      remainingBytes: (1000 - 80 * i) * MiB,
    }));
    const { actions } = feed({ strategy: 'precopy', postcopyReady: true }, shrinking, 1000, start);
    expect(actions.indexOf('give-up')).toBe(9);

    const post = feed(
      { strategy: 'precopy', postcopyReady: true },
      shrinking.map((r) => ({ ...r, status: 'postcopy-active' as const })),
      1000,
      start,
    );
    expect(post.actions.every((a) => a === 'continue')).toBe(true);
  });

  it('switches a planned post-copy once the first pass is done, not counted as an escalation', () => {
    const { verdicts, state } = feed({ strategy: 'postcopy', postcopyReady: true }, [
      { iteration: 1, remainingBytes: 900 * MiB },
      { iteration: 1, remainingBytes: 500 * MiB },
      { iteration: 2, remainingBytes: 80 * MiB },
      { iteration: 3, remainingBytes: 70 * MiB },
    ]);
    expect(verdicts.map((v) => v.action)).toEqual(['continue', 'continue', 'escalate', 'continue']);
    expect(verdicts[2]).toMatchObject({ to: 'postcopy', planned: true });
    expect(state.escalated).toBeNull();
  });

  it('gives up when QEMU reports failed or cancelled, and ignores setup readings', () => {
    const { verdicts } = feed({ strategy: 'precopy', postcopyReady: false }, [
      { status: 'setup' },
      { status: 'failed', error: 'Unable to write to socket: Connection reset by peer' },
    ]);
    expect(verdicts[0]).toEqual({ action: 'continue' });
    expect(verdicts[1]).toEqual({
      action: 'give-up',
      reason: 'QEMU failed: Unable to write to socket: Connection reset by peer',
    });
    expect(
      feed({ strategy: 'precopy', postcopyReady: false }, [{ status: 'cancelled' }]).actions,
    ).toEqual(['give-up']);
  });
});

describe('stallPolicyFor', () => {
  it('fits the deadline to the prediction, never under two minutes', () => {
    expect(stallPolicyFor({ converges: true, totalTimeMs: 60_000 }).deadlineMs).toBe(240_000);
    expect(stallPolicyFor({ converges: true, totalTimeMs: 700 }).deadlineMs).toBe(120_000);
    expect(stallPolicyFor({ converges: false, totalTimeMs: null })).toBe(DEFAULT_STALL_POLICY);
  });
});
