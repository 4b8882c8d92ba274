import type { ConcreteMigrationStrategy, MigrationPrediction } from '@novacron/api';
import { DomainError } from '@novacron/domain';

const MIB = 1024 * 1024;

/**
 * The constants of the prediction model. Exposed (and accepted as a parameter by `predict`) so a
 * benchmark can compare predicted with measured figures and calibrate them. The QEMU defaults are
 * those of QEMU 7.2 (`migrate-set-parameters`); the rest are estimates for a small guest, not
 * measurements, until a benchmark replaces them.
 */
export interface MigrationModel {
  /** Guest page size when the caller does not pass one. */
  readonly pageSizeBytes: number;
  /** Each RAM page on the stream carries an 8-byte offset+flags header (ram.c save_page_header). */
  readonly pageHeaderBytes: number;
  /** A zero page goes out as a header plus one byte instead of the page (ram.c save_zero_page). */
  readonly zeroPageRecordBytes: number;
  /** How fast the source tells zero pages apart (buffer_is_zero on the host CPU). */
  readonly zeroScanBytesPerSecond: number;
  /** Fixed cost of the setup stage when the caller gives none (connection, TLS, capabilities). */
  readonly setupMs: number;
  /** Fixed part of the pre-copy switch-over: device state and stopping/starting vCPUs. */
  readonly switchoverMs: number;
  /** Downtime of migrate-start-postcopy: device state plus the first faults (about 1 ms measured). */
  readonly postcopySwitchMs: number;
  /** Passes after which the model calls pre-copy non-converging (QEMU itself never stops). */
  readonly maxRounds: number;
  /** cpu-throttle-initial */
  readonly throttleInitialPercent: number;
  /** cpu-throttle-increment */
  readonly throttleIncrementPercent: number;
  /** max-cpu-throttle */
  readonly throttleMaxPercent: number;
  /** throttle-trigger-threshold: QEMU throttles when a period dirtied more than this share of what it sent. */
  readonly throttleTriggerRatio: number;
  /** ...and that happened this many times (dirty_rate_high_cnt >= 2). */
  readonly throttleTriggerCount: number;
  /**
   * A dirty rate at most this share of the link counts as a sure convergence (no post-copy
   * readiness). Conservative: a 60 MiB/s dirtier on a 128 MiB/s link (47 %) was seen not to
   * converge once in three runs, dirty rates being bursty.
   */
  readonly safeDirtyRatio: number;
}

export const MIGRATION_MODEL: MigrationModel = Object.freeze({
  pageSizeBytes: 4096,
  pageHeaderBytes: 8,
  zeroPageRecordBytes: 9,
  zeroScanBytesPerSecond: 4 * 1024 * MIB,
  setupMs: 20,
  switchoverMs: 1,
  postcopySwitchMs: 1,
  maxRounds: 100,
  throttleInitialPercent: 20,
  throttleIncrementPercent: 10,
  throttleMaxPercent: 99,
  throttleTriggerRatio: 0.5,
  throttleTriggerCount: 2,
  safeDirtyRatio: 0.25,
});

export interface PredictionInput {
  /** Guest RAM. */
  memoryBytes: number;
  /** Measured with calc-dirty-rate on the running guest. */
  dirtyRateBytes: number;
  /** The lower of the max-bandwidth limit and the measured link. */
  bandwidthBytes: number;
  /** QEMU's downtime-limit. */
  maxDowntimeMs: number;
  pageSizeBytes?: number;
  /** Fixed setup cost; the model's `setupMs` when absent. */
  setupMs?: number;
  /** Share of RAM that is zero pages (0..1); an idle, fresh guest is mostly zero. Default 0. */
  zeroPageFraction?: number;
  /** Most RAM the guest rewrites (bounds every re-sent round); all of RAM when absent. */
  workingSetBytes?: number;
}

/** What the model computed beyond the wire prediction; the chooser and benchmarks use it. */
export interface PredictionDetail {
  /** Passes over memory before the stop (pre-copy) or the switch (post-copy: 1). */
  rounds: number;
  /** Dirty rate over bandwidth in the last pass (after throttling, for auto-converge). */
  dirtyRatio: number;
  /** The vCPU throttle QEMU reaches (auto-converge), 0 otherwise. */
  throttlePercent: number;
  /** How many times QEMU started or raised the throttle. */
  throttleSteps: number;
  /** Bytes left for the stop-and-copy (pre-copy) or fetched after the switch (post-copy). */
  finalBytes: number;
  /** Duration of the first, full pass. */
  firstPassMs: number;
}

export type Prediction = MigrationPrediction & { detail: PredictionDetail };

/** The wire form of a prediction (MigrationPlan.predictions), without the model detail. */
export function toWirePrediction(p: Prediction): MigrationPrediction {
  return {
    strategy: p.strategy,
    converges: p.converges,
    totalTimeMs: p.totalTimeMs,
    downtimeMs: p.downtimeMs,
    reason: p.reason,
  };
}

function mib(bytes: number): string {
  const v = bytes / MIB;
  return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} MiB`;
}

function rate(bytes: number): string {
  return `${mib(bytes)}/s`;
}

function checkInput(input: PredictionInput): void {
  const bad = (field: string, why: string): never => {
    throw new DomainError('VALIDATION_FAILED', `migration prediction: ${field} ${why}`, {
      field,
    });
  };
  const finite = (field: string, v: number | undefined, min: number, positive = false): void => {
    if (v === undefined) return;
    if (!Number.isFinite(v)) bad(field, 'must be a finite number');
    if (positive ? v <= min : v < min)
      bad(field, positive ? `must be > ${min}` : `must be >= ${min}`);
  };
  finite('memoryBytes', input.memoryBytes, 0);
  finite('dirtyRateBytes', input.dirtyRateBytes, 0);
  finite('bandwidthBytes', input.bandwidthBytes, 0, true);
  finite('maxDowntimeMs', input.maxDowntimeMs, 0, true);
  finite('pageSizeBytes', input.pageSizeBytes, 0, true);
  finite('setupMs', input.setupMs, 0);
  finite('workingSetBytes', input.workingSetBytes, 0);
  finite('zeroPageFraction', input.zeroPageFraction, 0);
  if ((input.zeroPageFraction ?? 0) > 1) bad('zeroPageFraction', 'must be <= 1');
}

interface Params {
  bytesPerMs: number;
  /** Remainder that fits in the downtime: QEMU's threshold_size = bandwidth * downtime-limit. */
  thresholdBytes: number;
  workingSet: number;
  dirtyPerMs: number;
  setupMs: number;
  firstPassMs: number;
  firstPassWire: number;
  /** Wire bytes of `n` bytes of non-zero pages. */
  wire: (n: number) => number;
}

function params(input: PredictionInput, model: MigrationModel): Params {
  const page = input.pageSizeBytes ?? model.pageSizeBytes;
  const wire = (n: number): number => n * (1 + model.pageHeaderBytes / page);
  const zeroBytes = input.memoryBytes * (input.zeroPageFraction ?? 0);
  const firstPassWire =
    wire(input.memoryBytes - zeroBytes) + (zeroBytes / page) * model.zeroPageRecordBytes;
  const bytesPerMs = input.bandwidthBytes / 1000;
  return {
    bytesPerMs,
    thresholdBytes: bytesPerMs * input.maxDowntimeMs,
    workingSet: Math.min(input.workingSetBytes ?? input.memoryBytes, input.memoryBytes),
    dirtyPerMs: input.dirtyRateBytes / 1000,
    setupMs: input.setupMs ?? model.setupMs,
    firstPassMs: firstPassWire / bytesPerMs + (zeroBytes / model.zeroScanBytesPerSecond) * 1000,
    firstPassWire,
    wire,
  };
}

interface Precopy {
  converges: boolean;
  totalMs: number;
  downtimeMs: number;
  detail: PredictionDetail;
}

/**
 * The classic pre-copy series. Pass 0 sends all of RAM (zero pages as records); pass i re-sends
 * what the guest dirtied during pass i-1, never more than the working set. At each dirty sync QEMU
 * stops when the remainder fits in bandwidth x downtime-limit and sends it with vCPUs stopped.
 * With `throttle`, QEMU's auto-converge runs at each sync (migration_trigger_throttle): once a pass
 * dirtied more than half of what it sent, twice, the vCPUs are throttled to cpu-throttle-initial,
 * then raised by cpu-throttle-increment, which scales the dirty rate by (1 - throttle). QEMU checks
 * this at most once a second; the model checks at every pass, a simplification.
 */
function simulatePrecopy(p: Params, model: MigrationModel, throttle: boolean): Precopy {
  let elapsed = p.setupMs + p.firstPassMs;
  let lastMs = p.firstPassMs;
  let lastWire = p.firstPassWire;
  let rounds = 1;
  let percent = 0;
  let steps = 0;
  let high = 0;
  for (;;) {
    const dirtyPerMs = p.dirtyPerMs * (1 - percent / 100);
    const remaining = Math.min(dirtyPerMs * lastMs, p.workingSet);
    const detail: PredictionDetail = {
      rounds,
      dirtyRatio: dirtyPerMs / p.bytesPerMs,
      throttlePercent: percent,
      throttleSteps: steps,
      finalBytes: remaining,
      firstPassMs: p.firstPassMs,
    };
    if (remaining <= p.thresholdBytes) {
      const downtimeMs = p.wire(remaining) / p.bytesPerMs + model.switchoverMs;
      return { converges: true, totalMs: elapsed + downtimeMs, downtimeMs, detail };
    }
    if (rounds >= model.maxRounds)
      return { converges: false, totalMs: elapsed, downtimeMs: 0, detail };
    if (throttle && remaining > lastWire * model.throttleTriggerRatio) {
      high += 1;
      if (high >= model.throttleTriggerCount) {
        high = 0;
        steps += 1;
        percent =
          percent === 0
            ? model.throttleInitialPercent
            : Math.min(percent + model.throttleIncrementPercent, model.throttleMaxPercent);
      }
    }
    lastWire = p.wire(remaining);
    lastMs = lastWire / p.bytesPerMs;
    elapsed += lastMs;
    rounds += 1;
  }
}

function precopyPrediction(input: PredictionInput, p: Params, model: MigrationModel): Prediction {
  const sim = simulatePrecopy(p, model, false);
  const ratio = input.dirtyRateBytes / input.bandwidthBytes;
  if (sim.converges) {
    return {
      strategy: 'precopy',
      converges: true,
      totalTimeMs: sim.totalMs,
      downtimeMs: sim.downtimeMs,
      reason:
        `converges after ${sim.detail.rounds} pass(es): dirty rate ${rate(input.dirtyRateBytes)} is ` +
        `${Math.round(ratio * 100)}% of the ${rate(input.bandwidthBytes)} link; the last ` +
        `${mib(sim.detail.finalBytes)} fit the ${input.maxDowntimeMs} ms downtime`,
      detail: sim.detail,
    };
  }
  return {
    strategy: 'precopy',
    converges: false,
    totalTimeMs: null,
    downtimeMs: null,
    reason:
      ratio >= 1
        ? `dirty rate ${rate(input.dirtyRateBytes)} is not below the ${rate(input.bandwidthBytes)} ` +
          `link: pre-copy never catches up`
        : `dirty rate ${rate(input.dirtyRateBytes)} is ${Math.round(ratio * 100)}% of the ` +
          `${rate(input.bandwidthBytes)} link: ${mib(sim.detail.finalBytes)} still dirty after ` +
          `${sim.detail.rounds} passes, more than the ${mib(p.thresholdBytes)} a ` +
          `${input.maxDowntimeMs} ms downtime allows`,
    detail: sim.detail,
  };
}

function autoconvergePrediction(
  input: PredictionInput,
  p: Params,
  model: MigrationModel,
): Prediction {
  const sim = simulatePrecopy(p, model, true);
  const throttled =
    sim.detail.throttleSteps === 0
      ? 'without throttling'
      : `with the vCPUs throttled to ${sim.detail.throttlePercent}% (${sim.detail.throttleSteps} raise(s))`;
  if (sim.converges) {
    return {
      strategy: 'autoconverge',
      converges: true,
      totalTimeMs: sim.totalMs,
      downtimeMs: sim.downtimeMs,
      reason: `converges after ${sim.detail.rounds} pass(es) ${throttled}`,
      detail: sim.detail,
    };
  }
  return {
    strategy: 'autoconverge',
    converges: false,
    totalTimeMs: null,
    downtimeMs: null,
    reason:
      `dirty rate ${rate(input.dirtyRateBytes)} outruns the ${rate(input.bandwidthBytes)} link ` +
      `even ${throttled}`,
    detail: sim.detail,
  };
}

/**
 * Post-copy: one full pre-copy pass, then migrate-start-postcopy. The guest stops only for the
 * switch (device state), then runs on the target while the pages dirtied during the pass arrive,
 * each first touch of a missing page faulting across the network. It always finishes while the
 * link holds; the price is that a network failure after the switch loses the guest.
 */
function postcopyPrediction(input: PredictionInput, p: Params, model: MigrationModel): Prediction {
  const fetched = Math.min(p.dirtyPerMs * p.firstPassMs, p.workingSet);
  const fetchMs = p.wire(fetched) / p.bytesPerMs;
  const downtimeMs = model.postcopySwitchMs;
  return {
    strategy: 'postcopy',
    converges: true,
    totalTimeMs: p.setupMs + p.firstPassMs + downtimeMs + fetchMs,
    downtimeMs,
    reason:
      `switches after one ${Math.round(p.firstPassMs)} ms pass; then ${mib(fetched)} arrive ` +
      `on demand over ${Math.round(fetchMs)} ms while the guest faults on missing pages`,
    detail: {
      rounds: 1,
      dirtyRatio: input.dirtyRateBytes / input.bandwidthBytes,
      throttlePercent: 0,
      throttleSteps: 0,
      finalBytes: fetched,
      firstPassMs: p.firstPassMs,
    },
  };
}

/**
 * Predicts each concrete strategy (in the order precopy, postcopy, autoconverge) from the guest's
 * size and measured dirty rate and the link. Throws VALIDATION_FAILED on a negative, non-finite or
 * zero bandwidth/downtime input.
 */
export function predict(
  input: PredictionInput,
  model: MigrationModel = MIGRATION_MODEL,
): Prediction[] {
  checkInput(input);
  const p = params(input, model);
  return [
    precopyPrediction(input, p, model),
    postcopyPrediction(input, p, model),
    autoconvergePrediction(input, p, model),
  ];
}

/** The prediction for one strategy; throws when the list lacks it (a caller bug). */
export function predictionFor<P extends MigrationPrediction>(
  predictions: readonly P[],
  strategy: ConcreteMigrationStrategy,
): P {
  const found = predictions.find((p) => p.strategy === strategy);
  if (!found) throw new Error(`no ${strategy} prediction`);
  return found;
}
