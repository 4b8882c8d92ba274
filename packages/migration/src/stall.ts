import type {
  AgentMigrationSettings,
  AgentMigrationStatus,
  MigrationPrediction,
  QemuMigrationStatus,
} from '@novacron/api';

/** When a running migration counts as stalled, and how far the detector may escalate. */
export interface StallPolicy {
  /** Stalled when the remainder has not shrunk meaningfully over this many dirty syncs... */
  windowIterations: number;
  /** ...or over this long (also catches a stream that stopped moving within one pass). */
  windowMs: number;
  /** "Meaningfully": by at least this share of the lowest remainder seen so far. */
  minProgressFraction: number;
  /** From the start; past it the run gives up unless it already switched to post-copy. */
  deadlineMs: number;
  /** How many times a stall may raise the auto-converge throttle increment before moving on. */
  maxThrottleRaises: number;
  /** QEMU's cpu-throttle-increment at the start; each raise doubles it (at most 100). */
  initialThrottleIncrement: number;
  /** QEMU's max-cpu-throttle: once reached, raising the increment changes nothing. */
  maxThrottlePercent: number;
  /**
   * After the first pass, a pre-copy whose guest QEMU measures dirtying at least this share of
   * what the stream sends cannot converge in useful time (each pass leaves 90 % of the last): it
   * switches to post-copy at once (when ready) instead of waiting out the window.
   */
  outrunRatio: number;
}

export const DEFAULT_STALL_POLICY: StallPolicy = Object.freeze({
  windowIterations: 5,
  windowMs: 60_000,
  minProgressFraction: 0.1,
  deadlineMs: 30 * 60_000,
  maxThrottleRaises: 3,
  initialThrottleIncrement: 10,
  maxThrottlePercent: 99,
  outrunRatio: 0.9,
});

/**
 * The default policy with a deadline fitted to the plan: four times the predicted total, at least
 * two minutes; the default deadline when the strategy is not predicted to finish.
 */
export function stallPolicyFor(
  prediction: Pick<MigrationPrediction, 'converges' | 'totalTimeMs'>,
  base: StallPolicy = DEFAULT_STALL_POLICY,
): StallPolicy {
  if (!prediction.converges || prediction.totalTimeMs === null) return base;
  return { ...base, deadlineMs: Math.max(120_000, Math.ceil(prediction.totalTimeMs * 4)) };
}

export interface StallState {
  readonly policy: StallPolicy;
  readonly strategy: AgentMigrationSettings['strategy'];
  readonly postcopyReady: boolean;
  readonly startedAtMs: number;
  /** The lowest remainder since the last escalation, and when it was seen. */
  readonly best: {
    remainingBytes: number;
    transferredBytes: number | undefined;
    iteration: number;
    atMs: number;
  } | null;
  readonly throttleIncrement: number;
  readonly throttleRaises: number;
  /** migrate-start-postcopy was asked for (never twice). */
  readonly postcopyRequested: boolean;
  /** QEMU reported a post-copy status: no way back from here. */
  readonly inPostcopy: boolean;
  /** What a stall made the run do (MigrationResult.escalated); post-copy wins over throttle. */
  readonly escalated: 'postcopy' | 'throttle' | null;
}

export type StallVerdict =
  | { action: 'continue' }
  /** Call migrate-start-postcopy; `planned` when the strategy is post-copy (not a stall). */
  | { action: 'escalate'; to: 'postcopy'; planned: boolean; reason: string }
  /** Set cpu-throttle-increment to this value (AgentMigrationTuning). */
  | { action: 'escalate'; to: 'throttle'; cpuThrottleIncrement: number; reason: string }
  /** Cancel the migration and roll back: stalled with nothing left to try, failed, or too late. */
  | { action: 'give-up'; reason: string };

const MIB = 1024 * 1024;

const POSTCOPY: readonly QemuMigrationStatus[] = [
  'postcopy-active',
  'postcopy-paused',
  'postcopy-recover',
];

/** A fresh detector for a run that starts now (`startedAtMs` from the caller's clock). */
export function startStallWatch(
  settings: Pick<AgentMigrationSettings, 'strategy' | 'postcopyReady'>,
  startedAtMs: number,
  policy: StallPolicy = DEFAULT_STALL_POLICY,
): StallState {
  return {
    policy,
    strategy: settings.strategy,
    postcopyReady: settings.postcopyReady,
    startedAtMs,
    best: null,
    throttleIncrement: policy.initialThrottleIncrement,
    throttleRaises: 0,
    postcopyRequested: false,
    inPostcopy: false,
    escalated: null,
  };
}

/**
 * Feeds one source-side reading (query-migrate) taken at `nowMs`. Progress is the lowest
 * remainder seen: within a pre-copy pass the remainder falls, at each dirty sync it jumps back up
 * by what the guest dirtied, so only a new low counts. After an escalation the window starts again
 * so the change gets a fair chance. Escalation order: raise the throttle (auto-converge: the source
 * keeps a complete guest), then post-copy (if ready), then give up; a stream that sent nothing in
 * the window gives up at once, since neither helps a dead link and post-copy would strand the
 * guest. Once in post-copy there is no
 * way back: the verdict is always `continue` and the caller waits (or recovers a paused post-copy).
 */
export function observeMigration(
  state: StallState,
  reading: AgentMigrationStatus,
  nowMs: number,
): { state: StallState; verdict: StallVerdict } {
  const { policy } = state;
  const keep = (verdict: StallVerdict, next: StallState = state) => ({ state: next, verdict });

  if (POSTCOPY.includes(reading.status)) {
    return keep({ action: 'continue' }, { ...state, inPostcopy: true });
  }
  if (reading.status === 'completed') return keep({ action: 'continue' });
  if (reading.status === 'failed') {
    return keep({
      action: 'give-up',
      reason: `QEMU failed: ${reading.error ?? 'no reason given'}`,
    });
  }
  if (reading.status === 'cancelling' || reading.status === 'cancelled') {
    return keep({ action: 'give-up', reason: `the migration was ${reading.status}` });
  }
  if (state.inPostcopy) return keep({ action: 'continue' });

  if (nowMs - state.startedAtMs >= policy.deadlineMs) {
    return keep({
      action: 'give-up',
      reason: `not finished within the ${Math.round(policy.deadlineMs / 1000)} s deadline`,
    });
  }

  const iteration = reading.iteration ?? 0;
  if (state.strategy === 'postcopy' && !state.postcopyRequested && iteration >= 2) {
    // dirty-sync-count passes 1 when the first full pass is done: the planned switch point.
    return keep(
      { action: 'escalate', to: 'postcopy', planned: true, reason: 'first pass done' },
      { ...state, postcopyRequested: true },
    );
  }

  const remaining = reading.remainingBytes;
  if (remaining === undefined || reading.status !== 'active') return keep({ action: 'continue' });
  const sentBytesPerSecond =
    reading.throughputMbps === undefined ? undefined : (reading.throughputMbps * 1e6) / 8;
  if (
    state.strategy === 'precopy' &&
    state.postcopyReady &&
    !state.postcopyRequested &&
    iteration >= 2 &&
    sentBytesPerSecond !== undefined &&
    sentBytesPerSecond > 0 &&
    reading.dirtyRateBytes !== undefined &&
    reading.dirtyRateBytes >= sentBytesPerSecond * policy.outrunRatio
  ) {
    const rate = (bytes: number) => `${(bytes / MIB).toFixed(0)} MiB/s`;
    return keep(
      {
        action: 'escalate',
        to: 'postcopy',
        planned: false,
        reason:
          `QEMU measures the guest dirtying ${rate(reading.dirtyRateBytes)}, as fast as the ` +
          `stream sends (${rate(sentBytesPerSecond)}): pre-copy cannot converge; switching to post-copy`,
      },
      { ...state, postcopyRequested: true, escalated: 'postcopy' },
    );
  }
  const here = {
    remainingBytes: remaining,
    transferredBytes: reading.transferredBytes,
    iteration,
    atMs: nowMs,
  };
  const best = state.best;
  if (best === null || remaining <= best.remainingBytes * (1 - policy.minProgressFraction)) {
    return keep({ action: 'continue' }, { ...state, best: here });
  }
  const syncs = iteration - best.iteration;
  const waited = nowMs - best.atMs;
  if (syncs < policy.windowIterations && waited < policy.windowMs) {
    return keep({ action: 'continue' });
  }
  const shrink = `${(remaining / MIB).toFixed(0)} MiB remaining has not shrunk by ${policy.minProgressFraction * 100}%`;
  const why =
    syncs >= policy.windowIterations
      ? `${shrink} in ${syncs} dirty syncs`
      : `${shrink} in ${Math.round(waited / 1000)} s`;
  if (
    reading.transferredBytes !== undefined &&
    best.transferredBytes !== undefined &&
    reading.transferredBytes <= best.transferredBytes
  ) {
    // A dead link: post-copy would strand the guest on a target it cannot feed.
    return keep({ action: 'give-up', reason: `${why}, and no bytes were sent meanwhile` });
  }

  const throttle = reading.cpuThrottlePercent ?? 0;
  if (
    state.strategy === 'autoconverge' &&
    state.throttleRaises < policy.maxThrottleRaises &&
    throttle < policy.maxThrottlePercent &&
    state.throttleIncrement < 100
  ) {
    const next = Math.min(100, state.throttleIncrement * 2);
    return keep(
      {
        action: 'escalate',
        to: 'throttle',
        cpuThrottleIncrement: next,
        reason: `${why}; raising the throttle increment to ${next}%`,
      },
      {
        ...state,
        best: here,
        throttleIncrement: next,
        throttleRaises: state.throttleRaises + 1,
        escalated: state.escalated ?? 'throttle',
      },
    );
  }
  if (state.postcopyReady && !state.postcopyRequested) {
    return keep(
      {
        action: 'escalate',
        to: 'postcopy',
        planned: false,
        reason: `${why}; switching to post-copy`,
      },
      { ...state, best: here, postcopyRequested: true, escalated: 'postcopy' },
    );
  }
  return keep({ action: 'give-up', reason: `${why}; nothing left to try` });
}
