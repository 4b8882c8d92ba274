import type { QemuMigrationStatus } from '@novacron/api';
import { DomainError } from '@novacron/domain';

/**
 * The phases of one migrate operation, recorded on the operation row before each step starts:
 *
 *   planning -> preparing-target -> [mirroring] -> transferring -> [postcopy] -> switching-over -> finishing -> completed
 *   any phase before postcopy -> rolling-back -> rolled-back
 *   any unfinished phase -> lost (no host holds a complete guest; an administrator decides)
 *
 * planning: measuring the dirty rate and predicting; nothing on the hosts yet.
 * preparing-target: the target QEMU is being started with `-incoming`.
 * mirroring: a local disk is copied into the target's NBD export while the guest runs on the source.
 * transferring: pre-copy stream running; the source still holds a complete guest.
 * postcopy: migrate-start-postcopy was sent; the guest runs on the target, pages still on the source.
 * switching-over: QEMU reported completed; the target runs the guest; the store moves the VM to it.
 * finishing: the store says target; the source QEMU and its files are being removed.
 * rolling-back: the target QEMU is being removed and the source guest resumed.
 */
export const MIGRATION_PHASES = [
  'planning',
  'preparing-target',
  'mirroring',
  'transferring',
  'postcopy',
  'switching-over',
  'finishing',
  'completed',
  'rolling-back',
  'rolled-back',
  'lost',
] as const;
export type MigrationPhase = (typeof MIGRATION_PHASES)[number];

const NEXT: Record<MigrationPhase, readonly MigrationPhase[]> = {
  planning: ['preparing-target', 'rolling-back', 'rolled-back', 'lost'],
  'preparing-target': ['mirroring', 'transferring', 'rolling-back', 'lost'],
  mirroring: ['transferring', 'rolling-back', 'lost'],
  transferring: ['postcopy', 'switching-over', 'rolling-back', 'lost'],
  // After the switch the source no longer has a complete guest: no rollback.
  postcopy: ['switching-over', 'lost'],
  'switching-over': ['finishing', 'lost'],
  finishing: ['completed'],
  completed: [],
  // A rollback that finds the target owning the guest finishes the migration instead.
  'rolling-back': ['rolled-back', 'switching-over', 'lost'],
  'rolled-back': [],
  lost: [],
};

export function isTerminalPhase(phase: MigrationPhase): boolean {
  return NEXT[phase].length === 0;
}

export function canEnterPhase(from: MigrationPhase, to: MigrationPhase): boolean {
  return NEXT[from].includes(to);
}

export function assertPhaseTransition(from: MigrationPhase, to: MigrationPhase): void {
  if (!canEnterPhase(from, to)) {
    throw new DomainError('VM_INVALID_STATE', `a migration cannot go from ${from} to ${to}`, {
      from,
      to,
    });
  }
}

/**
 * Whether `DELETE /operations/{id}` may still stop the migration: only while the source holds a
 * complete guest, i.e. before migrate-start-postcopy or QEMU's completion.
 */
export function canCancel(phase: MigrationPhase): boolean {
  return (
    phase === 'planning' ||
    phase === 'preparing-target' ||
    phase === 'mirroring' ||
    phase === 'transferring'
  );
}

export function isMigrationPhase(value: string): value is MigrationPhase {
  return (MIGRATION_PHASES as readonly string[]).includes(value);
}

/**
 * What the source host holds of the guest now.
 * running/paused: a complete guest not being migrated (paused: vCPUs stopped, `cont` resumes it);
 * migrating: a complete guest with a pre-copy stream going out; handed-off: QEMU completed or
 * switched to post-copy, so it must never run again (postmigrate); absent: no usable QEMU;
 * unreachable: the agent does not answer, so anything is possible.
 */
export const SOURCE_VIEWS = [
  'running',
  'paused',
  'migrating',
  'handed-off',
  'absent',
  'unreachable',
] as const;
export type SourceView = (typeof SOURCE_VIEWS)[number];

/**
 * What the target host holds. running/paused: a complete guest (incoming finished); postcopy: the
 * guest runs but missing pages are still on the source; incoming: QEMU receiving, no guest yet;
 * absent; unreachable.
 */
export const TARGET_VIEWS = [
  'running',
  'paused',
  'postcopy',
  'incoming',
  'absent',
  'unreachable',
] as const;
export type TargetView = (typeof TARGET_VIEWS)[number];

/** What an agent says about this VM's QEMU on its host. */
export type HostReport =
  | { reachable: false }
  | { reachable: true; present: false }
  | {
      reachable: true;
      present: true;
      /** query-status `status` (running, paused, postmigrate, inmigrate, finish-migrate, ...). */
      runState: string;
      /** query-migrate `status` on that host ('none' when no migration ran). */
      migration: QemuMigrationStatus;
    };

const POSTCOPY: readonly QemuMigrationStatus[] = [
  'postcopy-active',
  'postcopy-paused',
  'postcopy-recover',
];
const PRECOPY_RUNNING: readonly QemuMigrationStatus[] = [
  'setup',
  'active',
  'pre-switchover',
  'device',
  'wait-unplug',
];

export function sourceView(report: HostReport): SourceView {
  if (!report.reachable) return 'unreachable';
  if (!report.present) return 'absent';
  if (report.migration === 'completed' || POSTCOPY.includes(report.migration)) return 'handed-off';
  if (report.runState === 'postmigrate') return 'handed-off';
  // A QEMU waiting for an incoming stream holds no guest.
  if (report.runState === 'inmigrate') return 'absent';
  if (PRECOPY_RUNNING.includes(report.migration)) return 'migrating';
  return report.runState === 'running' ? 'running' : 'paused';
}

export function targetView(report: HostReport): TargetView {
  if (!report.reachable) return 'unreachable';
  if (!report.present) return 'absent';
  if (POSTCOPY.includes(report.migration)) return 'postcopy';
  if (report.runState === 'inmigrate') return 'incoming';
  return report.runState === 'running' ? 'running' : 'paused';
}

export type RecoveryAction =
  /** Keep watching the migration where it is (stream alive, or post-copy under way). */
  | 'resume'
  /** The target owns the guest: record it there, then remove the source QEMU (when reachable). */
  | 'complete'
  /** The source owns the guest: cancel, remove the target QEMU (when reachable), resume the source. */
  | 'rollback'
  /** Cannot tell yet: ask both hosts again later; touch nothing. */
  | 'wait'
  /** No host holds a complete guest: mark the VM error, keep every file; an administrator decides. */
  | 'lost'
  /** Both hosts hold a complete guest: pause both, mark the VM error; an administrator picks one. */
  | 'conflict';

export interface RecoveryDecision {
  action: RecoveryAction;
  reason: string;
}

const AFTER_HANDOFF: readonly MigrationPhase[] = [
  'postcopy',
  'switching-over',
  'finishing',
  'completed',
];

/**
 * What a restarted server does with a migration it finds unfinished in `phase`, from what the two
 * hosts report now. The hosts' reports decide; the phase only matters where a host is unreachable.
 * The rules keep the guest on exactly one host: a host's copy is used only when that host has a
 * complete guest and the other cannot have one; when a silent host might hold the guest, wait.
 */
export function recoveryDecision(
  phase: MigrationPhase,
  source: SourceView,
  target: TargetView,
): RecoveryDecision {
  const d = (action: RecoveryAction, reason: string): RecoveryDecision => ({ action, reason });
  if (phase === 'completed') return d('complete', 'already completed');
  if (phase === 'rolled-back') return d('rollback', 'already rolled back');
  if (phase === 'lost') return d('lost', 'already marked lost');

  const sourceWhole = source === 'running' || source === 'paused' || source === 'migrating';
  const targetWhole = target === 'running' || target === 'paused';

  if (sourceWhole && (targetWhole || target === 'postcopy')) {
    return d('conflict', `the source is ${source} and the target ${target}: both hold the guest`);
  }
  if (targetWhole) {
    if (source === 'unreachable' && !AFTER_HANDOFF.includes(phase)) {
      // QEMU resumes the source itself when it thinks the last moment failed: wait to see.
      return d('wait', 'the target holds the guest but the source is unreachable and may too');
    }
    return d('complete', `the target holds the guest (${target}); the source is ${source}`);
  }
  if (sourceWhole) {
    if (source === 'migrating' && target === 'incoming' && phase !== 'rolling-back') {
      return d('resume', 'the pre-copy stream is still running');
    }
    return d('rollback', `the source holds the guest (${source}); the target is ${target}`);
  }
  // Neither host holds a complete guest.
  if (target === 'postcopy') {
    switch (source) {
      case 'handed-off':
        return d('resume', 'post-copy is under way');
      case 'unreachable':
        return d('wait', 'post-copy needs the source, which is unreachable');
      case 'absent':
        return d(
          'lost',
          'the target is in post-copy but the source, holding missing pages, is gone',
        );
    }
  }
  if (source === 'unreachable' || target === 'unreachable') {
    return d(
      'wait',
      `the source is ${source} and the target ${target}: an unreachable host may hold the guest`,
    );
  }
  if (source === 'handed-off' && target === 'incoming') {
    return d('wait', 'the source handed off and the target is still loading the last state');
  }
  return d('lost', `no complete guest: the source is ${source} and the target ${target}`);
}
