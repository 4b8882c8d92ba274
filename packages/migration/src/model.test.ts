import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MIGRATION_MODEL,
  predict,
  predictionFor,
  toWirePrediction,
  type PredictionInput,
} from './model.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const input = (over: Partial<PredictionInput> = {}): PredictionInput => ({
  memoryBytes: 256 * MiB,
  dirtyRateBytes: 0,
  bandwidthBytes: 128 * MiB,
  maxDowntimeMs: 300,
  ...over,
});

const arbInput = fc.record({
  memoryBytes: fc.integer({ min: 64, max: 64 * 1024 }).map((m) => m * MiB),
  dirtyRateBytes: fc.double({ min: 0, max: 2 * GiB, noNaN: true }),
  bandwidthBytes: fc.double({ min: MiB, max: 10 * GiB, noNaN: true }),
  maxDowntimeMs: fc.integer({ min: 1, max: 60_000 }),
  zeroPageFraction: fc.double({ min: 0, max: 1, noNaN: true }),
});

/** Relative slack for float sums that differ only in rounding. */
const close = (a: number, b: number) => a <= b * (1 + 1e-9) + 1e-9;

describe('predict', () => {
  it('an idle, mostly-zero 256 MiB guest migrates far faster than 256 MiB at 128 MiB/s', () => {
    const [pre] = predict(input({ dirtyRateBytes: 64 * 1024, zeroPageFraction: 0.9 }));
    expect(pre?.converges).toBe(true);
    expect(pre?.totalTimeMs).toBeLessThan(1000);
    expect(pre?.downtimeMs).toBeLessThan(10);
    const [full] = predict(input({ dirtyRateBytes: 64 * 1024 }));
    expect(full?.totalTimeMs).toBeGreaterThan(2000);
  });

  it('a 60 MiB/s dirtier on a 32 MiB/s link: pre-copy never catches up, post-copy finishes', () => {
    const predictions = predict(input({ dirtyRateBytes: 60 * MiB, bandwidthBytes: 32 * MiB }));
    const pre = predictionFor(predictions, 'precopy');
    expect(pre).toMatchObject({ converges: false, totalTimeMs: null, downtimeMs: null });
    expect(pre.reason).toMatch(/60 MiB\/s is not below the 32 MiB\/s link/);
    const post = predictionFor(predictions, 'postcopy');
    expect(post.converges).toBe(true);
    expect(post.downtimeMs).toBe(MIGRATION_MODEL.postcopySwitchMs);
    const auto = predictionFor(predictions, 'autoconverge');
    expect(auto.converges).toBe(true);
    expect(auto.detail.throttlePercent).toBeGreaterThan(40);
    expect(auto.reason).toMatch(/throttled to \d+%/);
  });

  it('auto-converge counts QEMU throttle steps: initial 20 %, then +10 % per step', () => {
    const auto = predictionFor(
      predict(input({ memoryBytes: 4 * GiB, dirtyRateBytes: 200 * MiB })),
      'autoconverge',
    );
    expect(auto.converges).toBe(true);
    expect(auto.detail.throttlePercent).toBe(20 + 10 * (auto.detail.throttleSteps - 1));
  });

  it('returns the three strategies, and strips the detail for the wire', () => {
    const predictions = predict(input());
    expect(predictions.map((p) => p.strategy)).toEqual(['precopy', 'postcopy', 'autoconverge']);
    expect(Object.keys(toWirePrediction(predictions[0]!)).sort()).toEqual([
      'converges',
      'downtimeMs',
      'reason',
      'strategy',
      'totalTimeMs',
    ]);
  });

  it('a working set that fits the downtime converges whatever the dirty rate', () => {
    const pre = predictionFor(
      predict(input({ dirtyRateBytes: 1 * GiB, workingSetBytes: 8 * MiB })),
      'precopy',
    );
    expect(pre.converges).toBe(true);
    expect(pre.detail.rounds).toBe(1);
  });

  it('refuses impossible inputs', () => {
    expect(() => predict(input({ bandwidthBytes: 0 }))).toThrow(/bandwidthBytes must be > 0/);
    expect(() => predict(input({ dirtyRateBytes: -1 }))).toThrow(/dirtyRateBytes/);
    expect(() => predict(input({ zeroPageFraction: 1.5 }))).toThrow(/zeroPageFraction/);
    expect(() => predict(input({ maxDowntimeMs: Number.NaN }))).toThrow(/finite/);
  });

  it('is never negative, and a converging prediction has figures', () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        for (const p of predict(i)) {
          expect(p.converges).toBe(p.totalTimeMs !== null && p.downtimeMs !== null);
          expect(p.totalTimeMs ?? 0).toBeGreaterThanOrEqual(0);
          expect(p.downtimeMs ?? 0).toBeGreaterThanOrEqual(0);
          expect(p.totalTimeMs ?? 0).toBeGreaterThanOrEqual(p.downtimeMs ?? 0);
          expect(p.reason).not.toBe('');
        }
      }),
    );
  });

  // The qualifications are QEMU's: when the first pass is shorter than the downtime limit (a
  // mostly-zero guest on a fast link), or all of RAM fits the downtime, the stop-and-copy takes it.
  it('pre-copy never converges when the dirty rate reaches the link and the first pass outlasts the downtime', () => {
    fc.assert(
      fc.property(arbInput, fc.double({ min: 1, max: 20, noNaN: true }), (i, factor) => {
        const pre = predictionFor(
          predict({ ...i, dirtyRateBytes: i.bandwidthBytes * factor }),
          'precopy',
        );
        fc.pre(pre.detail.firstPassMs > i.maxDowntimeMs);
        fc.pre((i.bandwidthBytes * i.maxDowntimeMs) / 1000 < i.memoryBytes);
        expect(pre.converges).toBe(false);
        expect(pre.reason).toMatch(/never catches up/);
      }),
    );
  });

  it('pre-copy and post-copy get no faster with a higher dirty rate', () => {
    fc.assert(
      fc.property(arbInput, fc.double({ min: 0, max: 1, noNaN: true }), (i, share) => {
        const lower = predict({ ...i, dirtyRateBytes: i.dirtyRateBytes * share });
        const higher = predict(i);
        for (const strategy of ['precopy', 'postcopy'] as const) {
          const lo = predictionFor(lower, strategy);
          const hi = predictionFor(higher, strategy);
          if (hi.converges) {
            expect(lo.converges).toBe(true);
            expect(close(lo.totalTimeMs!, hi.totalTimeMs!)).toBe(true);
          }
        }
      }),
    );
  });

  it('pre-copy and post-copy get no slower with more bandwidth', () => {
    fc.assert(
      fc.property(arbInput, fc.double({ min: 1, max: 10, noNaN: true }), (i, factor) => {
        const slow = predict(i);
        const fast = predict({ ...i, bandwidthBytes: i.bandwidthBytes * factor });
        for (const strategy of ['precopy', 'postcopy'] as const) {
          const s = predictionFor(slow, strategy);
          const f = predictionFor(fast, strategy);
          if (s.converges) {
            expect(f.converges).toBe(true);
            expect(close(f.totalTimeMs!, s.totalTimeMs!)).toBe(true);
          }
        }
      }),
    );
  });

  it('auto-converge finishes whenever pre-copy does, no later', () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        const predictions = predict(i);
        const pre = predictionFor(predictions, 'precopy');
        const auto = predictionFor(predictions, 'autoconverge');
        if (pre.converges) {
          expect(auto.converges).toBe(true);
          expect(close(auto.totalTimeMs!, pre.totalTimeMs!)).toBe(true);
        }
      }),
    );
  });

  it('post-copy always finishes, with the switch as its only downtime', () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        const post = predictionFor(predict(i), 'postcopy');
        expect(post.converges).toBe(true);
        expect(post.downtimeMs).toBe(MIGRATION_MODEL.postcopySwitchMs);
      }),
    );
  });

  it('auto-converge finishes when the fully throttled dirty rate is well below the link', () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        fc.pre(
          i.dirtyRateBytes * (1 - MIGRATION_MODEL.throttleMaxPercent / 100) < i.bandwidthBytes / 4,
        );
        expect(predictionFor(predict(i), 'autoconverge').converges).toBe(true);
      }),
    );
  });
});
