import type { VmState } from '@novacron/api';
import type { QmpRunState } from '@novacron/qmp';

/** The NovaCron state of a live QEMU, from its QMP run state; `reason` explains an error. */
export function vmStateOfRunState(runState: QmpRunState): {
  state: VmState;
  reason: string | null;
} {
  switch (runState) {
    case 'running':
    case 'colo':
      return { state: 'running', reason: null };
    case 'prelaunch':
    case 'inmigrate':
      return { state: 'starting', reason: null };
    case 'paused':
    case 'suspended':
    case 'postmigrate':
    case 'finish-migrate':
    case 'save-vm':
    case 'restore-vm':
    case 'debug':
    case 'watchdog':
      return { state: 'paused', reason: null };
    case 'shutdown':
      return { state: 'stopping', reason: null };
    case 'internal-error':
      return {
        state: 'error',
        reason: 'QEMU stopped the guest after an internal (accelerator) error',
      };
    case 'io-error':
      return { state: 'error', reason: 'QEMU paused the guest after a disk I/O error' };
    case 'guest-panicked':
      return { state: 'error', reason: 'the guest kernel panicked' };
  }
}
