import type {
  AgentMigrationStatus,
  ConcreteMigrationStrategy,
  MigrationPlan,
  MigrationProgress,
  MigrationResult,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { MigrationPhase } from './phases.js';

/**
 * Share of RAM already on the target, 0..100, from one query-migrate reading. Pre-copy re-sends
 * dirty pages, so this is 1 - remaining/total (not transferred/total, which passes 100 %); it stays
 * below 100 until QEMU says completed. Null when QEMU has not reported sizes yet.
 */
export function progressPercent(status: AgentMigrationStatus): number | null {
  if (status.status === 'completed') return 100;
  const { remainingBytes, totalBytes } = status;
  if (remainingBytes === undefined || totalBytes === undefined || totalBytes <= 0) {
    return status.status === 'setup' || status.status === 'none' ? 0 : null;
  }
  const done = (1 - remainingBytes / totalBytes) * 100;
  return Math.min(99, Math.max(0, Math.floor(done)));
}

export interface ProgressContext {
  operation: string;
  vm: string;
  from: string;
  to: string;
  strategy: ConcreteMigrationStrategy;
  phase: MigrationPhase;
}

/** The `migration.progress` event for one reading; absent counters read as 0. */
export function progressEvent(
  ctx: ProgressContext,
  status: AgentMigrationStatus,
): MigrationProgress {
  return {
    ...ctx,
    transferredBytes: status.transferredBytes ?? 0,
    remainingBytes: status.remainingBytes ?? 0,
    totalBytes: status.totalBytes ?? 0,
    dirtyRateBytes: status.dirtyRateBytes ?? 0,
    iteration: status.iteration ?? 0,
    expectedDowntimeMs: status.expectedDowntimeMs ?? null,
  };
}

export interface RunFacts {
  /** The strategy that ran (settings.strategy). */
  strategy: ConcreteMigrationStrategy;
  /** StallState.escalated at the end. */
  escalated: 'postcopy' | 'throttle' | null;
  tls: boolean;
}

/**
 * The operation's result from the source's final query-migrate. Every figure is QEMU's: a reading
 * that is not `completed`, or lacks total time, downtime, setup time or transferred bytes, throws
 * MIGRATION_FAILED rather than inventing a number. `predicted` is the plan's figure for the
 * strategy that ran.
 */
export function migrationResult(
  final: AgentMigrationStatus,
  plan: Pick<MigrationPlan, 'from' | 'to' | 'predictions' | 'planningTimeMs'>,
  run: RunFacts,
): MigrationResult {
  if (final.status !== 'completed') {
    throw new DomainError(
      'MIGRATION_FAILED',
      `the migration ended ${final.status}${final.error ? `: ${final.error}` : ''}`,
      { status: final.status },
    );
  }
  const figure = (name: string, value: number | undefined): number => {
    if (value === undefined) {
      throw new DomainError(
        'MIGRATION_FAILED',
        `QEMU reported no ${name} for the completed migration`,
        {
          missing: name,
        },
      );
    }
    return value;
  };
  const predicted = plan.predictions.find((p) => p.strategy === run.strategy);
  return {
    from: plan.from,
    to: plan.to,
    strategy: run.strategy,
    escalated: run.escalated,
    totalTimeMs: figure('total time', final.totalTimeMs),
    downtimeMs: figure('downtime', final.downtimeMs),
    setupTimeMs: figure('setup time', final.setupTimeMs),
    planningTimeMs: plan.planningTimeMs,
    bytesTransferred: figure('transferred bytes', final.transferredBytes),
    predicted: {
      totalTimeMs: predicted?.totalTimeMs ?? null,
      downtimeMs: predicted?.downtimeMs ?? null,
    },
    tls: run.tls,
  };
}
