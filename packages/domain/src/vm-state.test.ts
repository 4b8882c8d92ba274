import { VM_STATES } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import { assertActionAllowed, assertTransition, canTransition } from './vm-state.js';
import { DomainError } from './errors.js';

describe('VM state machine', () => {
  it('allows the everyday path create -> start -> run -> stop', () => {
    expect(canTransition('creating', 'starting')).toBe(true);
    expect(canTransition('starting', 'running')).toBe(true);
    expect(canTransition('running', 'stopping')).toBe(true);
    expect(canTransition('stopping', 'stopped')).toBe(true);
  });

  it('lets every state fall into error or unknown, and be deleted', () => {
    for (const state of VM_STATES) {
      expect(canTransition(state, 'error')).toBe(true);
      expect(canTransition(state, 'unknown')).toBe(true);
      expect(canTransition(state, 'deleting')).toBe(true);
    }
  });

  it('refuses to resume a stopped VM with a stable code', () => {
    expect(() => assertTransition('deleting', 'running')).toThrow(DomainError);
    try {
      assertActionAllowed('resume', 'stopped');
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'VM_INVALID_STATE', details: { state: 'stopped' } });
    }
  });
});
