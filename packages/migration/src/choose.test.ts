import type { MigrationRequest } from '@novacron/api';
import { isDomainError } from '@novacron/domain';
import { describe, expect, it } from 'vitest';
import { choose, migrationSettings, resolveLimits, type MigrationDefaults } from './choose.js';
import { predict, type PredictionInput } from './model.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const guest = (over: Partial<PredictionInput> = {}) =>
  predict({
    memoryBytes: 1 * GiB,
    dirtyRateBytes: 0,
    bandwidthBytes: 128 * MiB,
    maxDowntimeMs: 300,
    ...over,
  });

const defaults: MigrationDefaults = {
  maxBandwidthBytes: 128 * MiB,
  maxDowntimeMs: 300,
  tls: true,
};

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isDomainError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe('choose', () => {
  it('takes pre-copy for a quiet guest, ready to switch should it stall all the same', () => {
    expect(choose(guest({ dirtyRateBytes: 10 * MiB }))).toMatchObject({
      strategy: 'precopy',
      postcopyReady: true,
      feasible: true,
    });
    expect(choose(guest({ dirtyRateBytes: 10 * MiB }), { postcopyAllowed: false })).toMatchObject({
      strategy: 'precopy',
      postcopyReady: false,
    });
  });

  it('readies post-copy for the 60 MiB/s dirtier on 128 MiB/s, which once failed to converge', () => {
    expect(choose(guest({ dirtyRateBytes: 60 * MiB }))).toMatchObject({
      strategy: 'precopy',
      postcopyReady: true,
    });
  });

  it('takes pre-copy for a busy guest that still converges, ready to switch on a stall', () => {
    const choice = choose(guest({ dirtyRateBytes: 90 * MiB }));
    expect(choice).toMatchObject({ strategy: 'precopy', postcopyReady: true, feasible: true });
    expect(choice.reason).toMatch(/^pre-copy: converges after \d+ pass/);
  });

  it('takes auto-converge when pre-copy is too slow and a tolerable throttle suffices', () => {
    const predictions = guest({ memoryBytes: 4 * GiB, dirtyRateBytes: 0.9 * 128 * MiB });
    const slowPre = predictions.find((p) => p.strategy === 'precopy')!;
    const auto = predictions.find((p) => p.strategy === 'autoconverge')!;
    expect(slowPre.converges).toBe(true);
    expect(auto.detail.throttlePercent).toBeLessThanOrEqual(50);
    const limit = (slowPre.totalTimeMs! + auto.totalTimeMs!) / 2;
    expect(choose(predictions, { maxTotalTimeMs: limit })).toMatchObject({
      strategy: 'autoconverge',
      postcopyReady: true,
      feasible: true,
    });
    // A guest that tolerates no throttling goes to post-copy instead.
    expect(choose(predictions, { maxTotalTimeMs: limit, maxThrottlePercent: 0 })).toMatchObject({
      strategy: 'postcopy',
      postcopyReady: true,
    });
  });

  it('takes post-copy when the guest outruns the link', () => {
    const choice = choose(guest({ dirtyRateBytes: 3 * 128 * MiB }));
    expect(choice).toMatchObject({ strategy: 'postcopy', postcopyReady: true, feasible: true });
    expect(choice.reason).toMatch(/pre-copy cannot finish/);
  });

  it('has nothing feasible when post-copy is excluded and throttling would starve the guest', () => {
    const choice = choose(guest({ dirtyRateBytes: 3 * 128 * MiB }), { postcopyAllowed: false });
    expect(choice).toMatchObject({
      strategy: 'autoconverge',
      postcopyReady: false,
      feasible: false,
    });
    expect(choice.reason).toMatch(/excluded by multifd/);
  });

  it('never readies post-copy when it is not allowed', () => {
    for (const dirty of [0, 60, 100, 127, 200, 1000]) {
      const choice = choose(guest({ dirtyRateBytes: dirty * MiB }), {
        postcopyAllowed: false,
        maxThrottlePercent: 99,
      });
      expect(choice.postcopyReady).toBe(false);
      expect(choice.strategy).not.toBe('postcopy');
    }
  });
});

describe('migrationSettings', () => {
  const run = (request: MigrationRequest, dirtyMiB = 10, d: MigrationDefaults = defaults) => {
    const limits = resolveLimits(request, d);
    const predictions = guest({
      dirtyRateBytes: dirtyMiB * MiB,
      bandwidthBytes: limits.maxBandwidthBytes,
      maxDowntimeMs: limits.maxDowntimeMs,
    });
    return migrationSettings(request, d, predictions);
  };

  it('fills the cluster defaults and resolves auto', () => {
    expect(run({}).settings).toEqual({
      strategy: 'precopy',
      postcopyReady: true,
      maxBandwidthBytes: 128 * MiB,
      maxDowntimeMs: 300,
      multifdChannels: 0,
      compression: 'none',
      xbzrle: false,
      tls: true,
    });
    expect(
      run({ maxBandwidthBytes: 64 * MiB, maxDowntimeMs: 50, tls: false }).settings,
    ).toMatchObject({ maxBandwidthBytes: 64 * MiB, maxDowntimeMs: 50, tls: false });
  });

  it('refuses post-copy with multifd, compression or xbzrle', () => {
    for (const extra of [
      { multifdChannels: 4 },
      { multifdChannels: 2, compression: 'zstd' as const },
      { xbzrle: true },
    ]) {
      const e = errorOf(() => run({ strategy: 'postcopy', ...extra }));
      expect(e.code).toBe('VALIDATION_FAILED');
      expect(e.message).toMatch(/post-copy cannot be combined with/);
    }
  });

  it('refuses compression without multifd, and xbzrle with multifd', () => {
    expect(errorOf(() => run({ compression: 'zstd' }))).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/needs multifdChannels/) as string,
    });
    expect(errorOf(() => run({ multifdChannels: 2, xbzrle: true })).code).toBe('VALIDATION_FAILED');
  });

  it('says what to change when auto cannot finish without post-copy', () => {
    const e = errorOf(() => run({ multifdChannels: 4 }, 400));
    expect(e.code).toBe('MIGRATION_NOT_POSSIBLE');
    expect(e.message).toMatch(/Drop multifd\/compression\/xbzrle/);
  });

  it('runs an explicit strategy even when predicted not to converge, without post-copy readiness', () => {
    const { settings, choice } = run({ strategy: 'precopy' }, 400);
    expect(settings).toMatchObject({ strategy: 'precopy', postcopyReady: false });
    expect(choice.feasible).toBe(false);
    expect(run({ strategy: 'postcopy' }).settings).toMatchObject({
      strategy: 'postcopy',
      postcopyReady: true,
    });
    expect(run({ strategy: 'autoconverge', multifdChannels: 2 }).settings).toMatchObject({
      strategy: 'autoconverge',
      postcopyReady: false,
      multifdChannels: 2,
    });
  });

  it("drops the cluster's multifd defaults when the run may need post-copy, keeps them otherwise", () => {
    const d = { ...defaults, multifdChannels: 4, compression: 'zstd' as const };
    expect(run({ strategy: 'precopy' }, 10, d).settings).toMatchObject({
      multifdChannels: 4,
      compression: 'zstd',
    });
    expect(run({}, 10, d).settings).toMatchObject({ postcopyReady: true, multifdChannels: 0 });
    expect(run({}, 400, d).settings).toMatchObject({
      strategy: 'postcopy',
      postcopyReady: true,
      multifdChannels: 0,
      compression: 'none',
    });
    expect(run({}, 90, d).settings).toMatchObject({
      strategy: 'precopy',
      postcopyReady: true,
      multifdChannels: 0,
    });
  });
});
