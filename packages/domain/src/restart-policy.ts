import type { RestartPolicy, VmDesiredState, VmState } from '@novacron/api';

/** What reconciliation needs to know of a VM to decide on a restart. */
export interface RestartFacts {
  policy: RestartPolicy;
  desiredState: VmDesiredState;
  /** The state the host observed. */
  observed: VmState;
}

/**
 * True when the VM should run but its QEMU has ended and its policy asks for a restart. The agent
 * reports an abnormal exit (crash, kill, failed start) as `error` and a clean guest power-off as
 * `stopped`: `on-failure` restarts only the first, `always` both.
 */
export function wantsRestart(facts: RestartFacts): boolean {
  if (facts.desiredState !== 'running') return false;
  switch (facts.policy) {
    case 'never':
      return false;
    case 'on-failure':
      return facts.observed === 'error';
    case 'always':
      return facts.observed === 'error' || facts.observed === 'stopped';
  }
}

export interface Backoff {
  /** Delay before the first restart, in ms. */
  baseMs: number;
  /** Longest delay, in ms. */
  maxMs: number;
}

export const DEFAULT_RESTART_BACKOFF: Backoff = { baseMs: 1000, maxMs: 60_000 };

/** Delay before restart number `attempt` (0 for the first) of a run of failures: base x 2^n, capped. */
export function restartDelayMs(
  attempt: number,
  backoff: Backoff = DEFAULT_RESTART_BACKOFF,
): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  return Math.min(backoff.baseMs * 2 ** exponent, backoff.maxMs);
}
