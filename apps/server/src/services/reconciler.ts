import type { Operation, Vm, VmState } from '@novacron/api';
import {
  DEFAULT_RESTART_BACKOFF,
  restartDelayMs,
  wantsRestart,
  type Backoff,
  type Clock,
} from '@novacron/domain';
import type { Logger } from '@novacron/telemetry';

/** What a host reported of one VM. */
export interface ObservedVm {
  state: VmState;
  reason: string | null;
}

/** The one use case the reconciler drives: restart a VM as a `vm.start` operation. */
export interface RestartPort {
  /** Undefined when the VM no longer needs it (gone, stopped by a user, already starting). */
  restart(vmId: string, at: Date): Promise<Operation | undefined>;
}

export interface ReconcilerOptions {
  backoff?: Backoff;
  /** A VM seen running this long after its last restart starts its backoff from the beginning. */
  resetAfterMs?: number;
}

/** Per VM: restarts in the current run of failures, and the one pending restart if any. */
interface VmRestarts {
  attempts: number;
  lastRestartAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
  restarting: Promise<void> | undefined;
}

const DEFAULT_RESET_AFTER_MS = 10 * 60_000;

/**
 * Desired against observed state, per VM (ARCHITECTURE.md §3). The host service calls `observe`
 * after each observation of a VM; when the VM should run, its QEMU has ended, and its restart
 * policy says so, the reconciler restarts it after a backoff (1 s, 2 s, 4 s ... 60 s by default)
 * that grows with each restart in a row and starts again once the VM has stayed up.
 */
export class Reconciler {
  private readonly vms = new Map<string, VmRestarts>();
  private readonly backoff: Backoff;
  private readonly resetAfterMs: number;
  private closed = false;

  constructor(
    private readonly restarter: RestartPort,
    private readonly clock: Clock,
    private readonly logger: Logger,
    options: ReconcilerOptions = {},
  ) {
    this.backoff = options.backoff ?? DEFAULT_RESTART_BACKOFF;
    this.resetAfterMs = options.resetAfterMs ?? DEFAULT_RESET_AFTER_MS;
  }

  /** One observation of `vm` (as stored before it) by its host. Never throws, never waits. */
  observe(vm: Vm, observed: ObservedVm): void {
    if (this.closed) return;
    const entry = this.vms.get(vm.id);
    const facts = {
      policy: vm.restartPolicy,
      desiredState: vm.desiredState,
      observed: observed.state,
    };
    if (!wantsRestart(facts)) {
      if (entry !== undefined && entry.timer === undefined && entry.restarting === undefined) {
        const upFor = this.clock.now().getTime() - (entry.lastRestartAt ?? 0);
        if (observed.state === 'running' && upFor >= this.resetAfterMs) this.vms.delete(vm.id);
      }
      return;
    }
    const restarts = entry ?? {
      attempts: 0,
      lastRestartAt: undefined,
      timer: undefined,
      restarting: undefined,
    };
    this.vms.set(vm.id, restarts);
    if (restarts.timer !== undefined || restarts.restarting !== undefined) return;
    const delayMs = restartDelayMs(restarts.attempts, this.backoff);
    this.logger.info(
      {
        vm: vm.name,
        vmId: vm.id,
        observed: observed.state,
        reason: observed.reason,
        policy: vm.restartPolicy,
        delayMs,
      },
      'VM should run but its QEMU ended: restart scheduled',
    );
    restarts.timer = setTimeout(() => {
      restarts.timer = undefined;
      restarts.restarting = this.restart(vm, restarts).finally(() => {
        restarts.restarting = undefined;
      });
    }, delayMs);
  }

  /** Cancels pending restarts and waits for the ones under way. */
  async close(): Promise<void> {
    this.closed = true;
    const under: Promise<void>[] = [];
    for (const entry of this.vms.values()) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
      if (entry.restarting !== undefined) under.push(entry.restarting);
    }
    await Promise.allSettled(under);
  }

  private async restart(vm: Vm, restarts: VmRestarts): Promise<void> {
    if (this.closed) return;
    const at = this.clock.now();
    try {
      const operation = await this.restarter.restart(vm.id, at);
      if (operation === undefined) return;
      restarts.attempts += 1;
      restarts.lastRestartAt = at.getTime();
      this.logger.warn(
        { vm: vm.name, vmId: vm.id, operation: operation.id, attempt: restarts.attempts },
        'restarting VM after its QEMU ended',
      );
    } catch (error) {
      // Counted as an attempt too, so a VM that cannot start backs off instead of hammering.
      restarts.attempts += 1;
      restarts.lastRestartAt = at.getTime();
      this.logger.warn({ vm: vm.name, vmId: vm.id, err: error }, 'could not restart VM');
    }
  }
}
