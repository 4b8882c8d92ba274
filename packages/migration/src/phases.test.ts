import type { QemuMigrationStatus } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import {
  MIGRATION_PHASES,
  SOURCE_VIEWS,
  TARGET_VIEWS,
  assertPhaseTransition,
  canCancel,
  canEnterPhase,
  isTerminalPhase,
  recoveryDecision,
  sourceView,
  targetView,
  type MigrationPhase,
  type RecoveryAction,
  type SourceView,
  type TargetView,
} from './phases.js';

const UNFINISHED = MIGRATION_PHASES.filter((p) => !isTerminalPhase(p));
const BEFORE_HANDOFF: MigrationPhase[] = [
  'planning',
  'preparing-target',
  'mirroring',
  'transferring',
];
const SOURCE_WHOLE: SourceView[] = ['running', 'paused', 'migrating'];
const TARGET_WHOLE: TargetView[] = ['running', 'paused'];

const everyCase = UNFINISHED.flatMap((phase) =>
  SOURCE_VIEWS.flatMap((source) =>
    TARGET_VIEWS.map((target) => ({
      phase,
      source,
      target,
      ...recoveryDecision(phase, source, target),
    })),
  ),
);

describe('phase machine', () => {
  it('walks the happy paths and both rollbacks', () => {
    const paths: MigrationPhase[][] = [
      ['planning', 'preparing-target', 'transferring', 'switching-over', 'finishing', 'completed'],
      [
        'planning',
        'preparing-target',
        'transferring',
        'postcopy',
        'switching-over',
        'finishing',
        'completed',
      ],
      ['planning', 'preparing-target', 'transferring', 'rolling-back', 'rolled-back'],
      ['planning', 'rolled-back'],
    ];
    for (const path of paths) {
      path
        .slice(1)
        .forEach((to, i) => expect(() => assertPhaseTransition(path[i]!, to)).not.toThrow());
    }
  });

  it('never rolls back after the switch to post-copy, and never leaves a terminal phase', () => {
    for (const from of ['postcopy', 'switching-over', 'finishing'] as const) {
      expect(canEnterPhase(from, 'rolling-back')).toBe(false);
    }
    for (const from of MIGRATION_PHASES.filter(isTerminalPhase)) {
      for (const to of MIGRATION_PHASES) expect(canEnterPhase(from, to)).toBe(false);
    }
    expect(() => assertPhaseTransition('postcopy', 'rolling-back')).toThrow(
      /cannot go from postcopy to rolling-back/,
    );
  });

  it('allows a cancel only while the source holds a complete guest', () => {
    expect(MIGRATION_PHASES.filter(canCancel)).toEqual(BEFORE_HANDOFF);
  });
});

describe('host views', () => {
  const report = (runState: string, migration: QemuMigrationStatus) =>
    ({ reachable: true, present: true, runState, migration }) as const;

  it('reads the source', () => {
    expect(sourceView({ reachable: false })).toBe('unreachable');
    expect(sourceView({ reachable: true, present: false })).toBe('absent');
    expect(sourceView(report('running', 'none'))).toBe('running');
    expect(sourceView(report('running', 'active'))).toBe('migrating');
    expect(sourceView(report('paused', 'active'))).toBe('migrating');
    expect(sourceView(report('finish-migrate', 'device'))).toBe('migrating');
    expect(sourceView(report('running', 'failed'))).toBe('running');
    expect(sourceView(report('paused', 'cancelled'))).toBe('paused');
    expect(sourceView(report('postmigrate', 'completed'))).toBe('handed-off');
    expect(sourceView(report('finish-migrate', 'postcopy-active'))).toBe('handed-off');
    expect(sourceView(report('postmigrate', 'postcopy-paused'))).toBe('handed-off');
    expect(sourceView(report('postmigrate', 'failed'))).toBe('handed-off');
    expect(sourceView(report('inmigrate', 'none'))).toBe('absent');
  });

  it('reads the target', () => {
    expect(targetView({ reachable: false })).toBe('unreachable');
    expect(targetView({ reachable: true, present: false })).toBe('absent');
    expect(targetView(report('inmigrate', 'none'))).toBe('incoming');
    expect(targetView(report('inmigrate', 'active'))).toBe('incoming');
    expect(targetView(report('running', 'postcopy-active'))).toBe('postcopy');
    expect(targetView(report('running', 'postcopy-paused'))).toBe('postcopy');
    expect(targetView(report('running', 'completed'))).toBe('running');
    expect(targetView(report('paused', 'completed'))).toBe('paused');
  });
});

describe('recoveryDecision, every phase x source x target', () => {
  it('has a decision with a reason for each of the combinations', () => {
    expect(everyCase).toHaveLength(UNFINISHED.length * SOURCE_VIEWS.length * TARGET_VIEWS.length);
    for (const c of everyCase) expect(c.reason).not.toBe('');
  });

  it('completes only onto a complete target, and rolls back only onto a complete source', () => {
    for (const c of everyCase) {
      if (c.action === 'complete') {
        expect(TARGET_WHOLE).toContain(c.target);
        expect(SOURCE_WHOLE).not.toContain(c.source);
      }
      if (c.action === 'rollback' || c.action === 'resume') {
        if (c.target !== 'postcopy') expect(SOURCE_WHOLE).toContain(c.source);
      }
      if (c.action === 'rollback') {
        expect([...TARGET_WHOLE, 'postcopy']).not.toContain(c.target);
      }
    }
  });

  it('flags two complete guests as a conflict whatever the phase', () => {
    for (const c of everyCase) {
      const twoGuests =
        SOURCE_WHOLE.includes(c.source) && [...TARGET_WHOLE, 'postcopy'].includes(c.target);
      expect(c.action === 'conflict').toBe(twoGuests);
    }
  });

  it('calls a guest lost only when every host answered and none holds it', () => {
    for (const c of everyCase.filter((x) => x.action === 'lost')) {
      expect(c.source).not.toBe('unreachable');
      expect(c.target).not.toBe('unreachable');
      expect(SOURCE_WHOLE).not.toContain(c.source);
      expect(TARGET_WHOLE).not.toContain(c.target);
    }
  });

  it('waits when a silent host may hold the guest', () => {
    for (const c of everyCase) {
      const silentMayHold =
        (c.source === 'unreachable' && !TARGET_WHOLE.includes(c.target)) ||
        (c.target === 'unreachable' && !SOURCE_WHOLE.includes(c.source));
      if (silentMayHold) expect(c.action).toBe('wait');
    }
  });

  it('decides by the hosts, not the phase, except a silent source before the hand-off', () => {
    const table: Record<SourceView, Record<TargetView, RecoveryAction>> = {
      running: {
        running: 'conflict',
        paused: 'conflict',
        postcopy: 'conflict',
        incoming: 'rollback',
        absent: 'rollback',
        unreachable: 'rollback',
      },
      paused: {
        running: 'conflict',
        paused: 'conflict',
        postcopy: 'conflict',
        incoming: 'rollback',
        absent: 'rollback',
        unreachable: 'rollback',
      },
      migrating: {
        running: 'conflict',
        paused: 'conflict',
        postcopy: 'conflict',
        incoming: 'resume',
        absent: 'rollback',
        unreachable: 'rollback',
      },
      'handed-off': {
        running: 'complete',
        paused: 'complete',
        postcopy: 'resume',
        incoming: 'wait',
        absent: 'lost',
        unreachable: 'wait',
      },
      absent: {
        running: 'complete',
        paused: 'complete',
        postcopy: 'lost',
        incoming: 'lost',
        absent: 'lost',
        unreachable: 'wait',
      },
      unreachable: {
        running: 'complete',
        paused: 'complete',
        postcopy: 'wait',
        incoming: 'wait',
        absent: 'wait',
        unreachable: 'wait',
      },
    };
    for (const c of everyCase) {
      let expected = table[c.source][c.target];
      if (c.source === 'unreachable' && TARGET_WHOLE.includes(c.target)) {
        expected = ['postcopy', 'switching-over', 'finishing'].includes(c.phase)
          ? 'complete'
          : 'wait';
      }
      if (c.phase === 'rolling-back' && expected === 'resume' && c.source === 'migrating') {
        expected = 'rollback';
      }
      expect({ ...c, action: c.action }).toEqual({ ...c, action: expected });
    }
  });

  it('answers the terminal phases without asking', () => {
    expect(recoveryDecision('completed', 'absent', 'absent').action).toBe('complete');
    expect(recoveryDecision('rolled-back', 'absent', 'absent').action).toBe('rollback');
    expect(recoveryDecision('lost', 'running', 'absent').action).toBe('lost');
  });
});
