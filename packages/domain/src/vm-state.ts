import type { VmActionName, VmState } from '@novacron/api';
import { DomainError } from './errors.js';

/**
 * Every legal move of a VM's observed state. `error` and `unknown` can be entered from anywhere
 * (QEMU died, the host vanished), and a VM can always be deleted.
 */
const TRANSITIONS: Record<VmState, readonly VmState[]> = {
  creating: ['stopped', 'starting'],
  stopped: ['starting', 'deleting'],
  starting: ['running', 'stopped'],
  running: ['stopping', 'paused', 'stopped', 'starting', 'migrating'],
  stopping: ['stopped', 'running'],
  paused: ['running', 'stopping', 'stopped', 'migrating'],
  // Ends where it began when the migration rolls back, or running on the target host.
  migrating: ['running', 'paused'],
  deleting: [],
  error: ['starting', 'stopped', 'deleting'],
  unknown: ['running', 'stopped', 'paused', 'deleting'],
};

const ALWAYS_REACHABLE: readonly VmState[] = ['error', 'unknown', 'deleting'];

export function canTransition(from: VmState, to: VmState): boolean {
  return from === to || ALWAYS_REACHABLE.includes(to) || TRANSITIONS[from].includes(to);
}

export function assertTransition(from: VmState, to: VmState): void {
  if (!canTransition(from, to)) {
    throw new DomainError('VM_INVALID_STATE', `a VM cannot go from ${from} to ${to}`, {
      from,
      to,
    });
  }
}

/** The states from which a user action may be asked for. */
const ACTION_FROM: Record<VmActionName, readonly VmState[]> = {
  start: ['stopped', 'error'],
  stop: ['running', 'paused', 'starting', 'stopping', 'unknown'],
  reboot: ['running'],
  pause: ['running'],
  resume: ['paused'],
};

/** Throws VM_INVALID_STATE with the allowed states when `action` makes no sense in `state`. */
export function assertActionAllowed(action: VmActionName, state: VmState): void {
  const allowed = ACTION_FROM[action];
  if (!allowed.includes(state)) {
    throw new DomainError(
      'VM_INVALID_STATE',
      `cannot ${action} a VM that is ${state} (allowed when ${allowed.join(', ')})`,
      { action, state, allowed },
    );
  }
}

/** The state a VM is driven to by an action. */
export function targetStateOf(action: VmActionName): VmState {
  switch (action) {
    case 'start':
    case 'reboot':
    case 'resume':
      return 'running';
    case 'stop':
      return 'stopped';
    case 'pause':
      return 'paused';
  }
}
