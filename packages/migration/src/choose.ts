import type {
  AgentMigrationSettings,
  ConcreteMigrationStrategy,
  MigrationCompression,
  MigrationLimits,
  MigrationRequest,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { MIGRATION_MODEL, predictionFor, type MigrationModel, type Prediction } from './model.js';

/**
 * The highest vCPU throttle `auto` accepts for auto-converge: the guest keeps at least half of its
 * CPU time. A guest that needs more (QEMU-measured: a bursty dirtier needed 99 %) is better served
 * by post-copy, whose cost is page faults rather than a starved guest.
 */
export const DEFAULT_TOLERABLE_THROTTLE_PERCENT = 50;

export interface ChoiceLimits {
  /** Longest the whole migration may take; absent: any finite time. */
  maxTotalTimeMs?: number;
  /** Highest throttle the guest tolerates; 0: never throttle. Default 50. */
  maxThrottlePercent?: number;
  /** False when multifd, compression or xbzrle were asked for: QEMU 7.2 cannot add post-copy. */
  postcopyAllowed?: boolean;
}

export interface Choice {
  strategy: ConcreteMigrationStrategy;
  /** Set postcopy-ram up front so that a stalled run can switch (see `choose`). */
  postcopyReady: boolean;
  /** False when no strategy is predicted to finish within the limits (the pick is a best effort). */
  feasible: boolean;
  reason: string;
}

/**
 * The strategy `auto` runs. Pre-copy first when it finishes within the limits: it is the lowest
 * risk, since until the end the source keeps a complete guest, whereas post-copy loses the guest
 * when the network fails after the switch. Auto-converge next, when the throttle it needs stays
 * within what the guest tolerates. Post-copy only when neither completes. `postcopyReady` is true
 * whenever post-copy is allowed, so that the stall detector can switch if the run stalls: the
 * dirty rate is measured by sampling over one second, and the bench saw a guest measured well under
 * `safeDirtyRatio` of the link stall all the same. The capability alone changes nothing until a
 * switch is asked for.
 */
export function choose(
  predictions: readonly Prediction[],
  limits: ChoiceLimits = {},
  model: MigrationModel = MIGRATION_MODEL,
): Choice {
  const allowed = limits.postcopyAllowed ?? true;
  const tolerable = limits.maxThrottlePercent ?? DEFAULT_TOLERABLE_THROTTLE_PERCENT;
  const inTime = (p: Prediction): boolean =>
    p.converges &&
    p.totalTimeMs !== null &&
    (limits.maxTotalTimeMs === undefined || p.totalTimeMs <= limits.maxTotalTimeMs);

  const pre = predictionFor(predictions, 'precopy');
  const auto = predictionFor(predictions, 'autoconverge');
  const post = predictionFor(predictions, 'postcopy');

  if (inTime(pre)) {
    const sure = pre.detail.dirtyRatio <= model.safeDirtyRatio;
    return {
      strategy: 'precopy',
      postcopyReady: allowed,
      feasible: true,
      reason: `pre-copy: ${pre.reason}${sure ? '' : ' (close to the link: may stall)'}`,
    };
  }
  if (inTime(auto) && auto.detail.throttlePercent <= tolerable) {
    return {
      strategy: 'autoconverge',
      postcopyReady: allowed,
      feasible: true,
      reason: `auto-converge: ${auto.reason}`,
    };
  }
  if (allowed) {
    return {
      strategy: 'postcopy',
      postcopyReady: true,
      feasible: inTime(post),
      reason: inTime(post)
        ? `post-copy, since pre-copy cannot finish (${pre.reason}): ${post.reason}`
        : `post-copy is the only strategy that finishes but exceeds the time limit: ${post.reason}`,
    };
  }
  return {
    strategy: 'autoconverge',
    postcopyReady: false,
    feasible: false,
    reason: auto.converges
      ? `pre-copy cannot finish (${pre.reason}) and auto-converge needs ` +
        `${auto.detail.throttlePercent}% throttling (more than ${tolerable}%), while post-copy is ` +
        `excluded by multifd, compression or xbzrle`
      : `pre-copy cannot finish (${pre.reason}), nor auto-converge, and post-copy is excluded by ` +
        `multifd, compression or xbzrle`,
  };
}

/** Cluster-wide migration defaults (config); a request's own values override them. */
export interface MigrationDefaults {
  maxBandwidthBytes: number;
  maxDowntimeMs: number;
  tls: boolean;
  /** Applied only when the run does not need post-copy (see `migrationSettings`). */
  multifdChannels?: number;
  compression?: MigrationCompression;
  xbzrle?: boolean;
  maxThrottlePercent?: number;
  maxTotalTimeMs?: number;
  /** How long a running migration may make no progress before it is escalated or given up. */
  stallWindowMs?: number;
}

/** The bandwidth and downtime limits in force: the request's, else the cluster's. */
export function resolveLimits(
  request: MigrationLimits,
  defaults: Pick<MigrationDefaults, 'maxBandwidthBytes' | 'maxDowntimeMs'>,
): Required<MigrationLimits> {
  return {
    maxBandwidthBytes: request.maxBandwidthBytes ?? defaults.maxBandwidthBytes,
    maxDowntimeMs: request.maxDowntimeMs ?? defaults.maxDowntimeMs,
  };
}

function invalid(message: string, details: Record<string, unknown>): DomainError {
  return new DomainError('VALIDATION_FAILED', message, details);
}

/**
 * Turns a user's request, the cluster defaults and the predictions (made with `resolveLimits`) into
 * what both QEMUs get. Refuses, with VALIDATION_FAILED, combinations QEMU 7.2 rejects or ignores:
 * post-copy with multifd, compression or xbzrle; compression without multifd channels; xbzrle with
 * multifd (multifd streams bypass xbzrle). For `auto`, the strategy comes from `choose`; when
 * nothing is predicted to finish, MIGRATION_NOT_POSSIBLE says what to change. An explicit strategy
 * runs even when predicted not to converge (the stall detector then gives up), and never gets
 * post-copy readiness unless it is post-copy. The defaults' multifd, compression and xbzrle yield
 * when the run needs post-copy or post-copy readiness; the request's own never do.
 * `noPostcopy` (the reason) excludes post-copy altogether: an explicit post-copy is refused, `auto`
 * never picks nor readies it (a shared-nothing migration, ADR 20).
 */
export function migrationSettings(
  request: MigrationRequest,
  defaults: MigrationDefaults,
  predictions: readonly Prediction[],
  model: MigrationModel = MIGRATION_MODEL,
  noPostcopy?: string,
): { settings: AgentMigrationSettings; choice: Choice } {
  const strategy = request.strategy ?? 'auto';
  if (strategy === 'postcopy' && noPostcopy !== undefined) {
    throw invalid(`post-copy is not possible here: ${noPostcopy}`, { strategy });
  }
  const asked = {
    multifd: (request.multifdChannels ?? 0) > 0,
    compression: (request.compression ?? 'none') !== 'none',
    xbzrle: request.xbzrle === true,
  };
  const askedExtras = Object.entries(asked)
    .filter(([, on]) => on)
    .map(([name]) => name);
  if (strategy === 'postcopy' && askedExtras.length > 0) {
    throw invalid(
      `post-copy cannot be combined with ${askedExtras.join(', ')} (QEMU 7.2); drop them or pick another strategy`,
      { strategy, conflicts: askedExtras },
    );
  }

  const limits = resolveLimits(request, defaults);
  let choice: Choice;
  if (strategy === 'auto') {
    choice = choose(
      predictions,
      {
        postcopyAllowed: askedExtras.length === 0 && noPostcopy === undefined,
        ...(defaults.maxThrottlePercent === undefined
          ? {}
          : { maxThrottlePercent: defaults.maxThrottlePercent }),
        ...(defaults.maxTotalTimeMs === undefined
          ? {}
          : { maxTotalTimeMs: defaults.maxTotalTimeMs }),
      },
      model,
    );
    if (!choice.feasible && choice.strategy !== 'postcopy') {
      throw new DomainError(
        'MIGRATION_NOT_POSSIBLE',
        `no migration strategy is predicted to finish: ${choice.reason}. Drop multifd/compression/xbzrle ` +
          `to allow post-copy, raise maxBandwidthBytes or maxDowntimeMs, or ask for a strategy explicitly`,
        { predictions: predictions.map((p) => ({ strategy: p.strategy, reason: p.reason })) },
      );
    }
  } else {
    const p = predictionFor(predictions, strategy);
    choice = {
      strategy,
      postcopyReady: strategy === 'postcopy',
      feasible: p.converges,
      reason: `${strategy} as asked: ${p.reason}`,
    };
  }

  const postcopyRun = choice.strategy === 'postcopy' || choice.postcopyReady;
  const pick = <T>(own: T | undefined, fallback: T | undefined, off: T): T =>
    own ?? (postcopyRun ? off : (fallback ?? off));
  const settings: AgentMigrationSettings = {
    strategy: choice.strategy,
    postcopyReady: postcopyRun,
    maxBandwidthBytes: limits.maxBandwidthBytes,
    maxDowntimeMs: limits.maxDowntimeMs,
    multifdChannels: pick(request.multifdChannels, defaults.multifdChannels, 0),
    compression: pick(request.compression, defaults.compression, 'none'),
    xbzrle: pick(request.xbzrle, defaults.xbzrle, false),
    tls: request.tls ?? defaults.tls,
  };

  if (settings.compression !== 'none' && settings.multifdChannels === 0) {
    throw invalid(`compression ${settings.compression} needs multifdChannels of 1 or more`, {
      compression: settings.compression,
    });
  }
  if (settings.xbzrle && settings.multifdChannels > 0) {
    throw invalid('xbzrle does not apply to multifd streams; ask for one or the other', {
      xbzrle: true,
      multifdChannels: settings.multifdChannels,
    });
  }
  return { settings, choice };
}
