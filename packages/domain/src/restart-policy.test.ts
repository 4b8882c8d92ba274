import type { RestartPolicy, VmState } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import { restartDelayMs, wantsRestart } from './restart-policy.js';

describe('wantsRestart', () => {
  const cases: [RestartPolicy, VmState, boolean][] = [
    ['never', 'error', false],
    ['never', 'stopped', false],
    ['on-failure', 'error', true],
    ['on-failure', 'stopped', false],
    ['always', 'error', true],
    ['always', 'stopped', true],
    ['always', 'running', false],
    ['always', 'unknown', false],
    ['always', 'paused', false],
  ];
  it.each(cases)('%s, observed %s -> %s', (policy, observed, expected) => {
    expect(wantsRestart({ policy, observed, desiredState: 'running' })).toBe(expected);
  });

  it('never restarts a VM that should be stopped', () => {
    expect(wantsRestart({ policy: 'always', observed: 'error', desiredState: 'stopped' })).toBe(
      false,
    );
  });
});

describe('restartDelayMs', () => {
  it('doubles from 1 s up to 60 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 100].map((n) => restartDelayMs(n))).toEqual([
      1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000,
    ]);
    expect(restartDelayMs(-1)).toBe(1000);
    expect(restartDelayMs(3, { baseMs: 10, maxMs: 50 })).toBe(50);
  });
});
