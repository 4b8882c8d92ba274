import {
  TERMINAL_OPERATION_STATUSES,
  type ErrorDetail,
  type Operation,
  type OperationKind,
} from '@novacron/api';
import type { Clock } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';
import { toDomainError } from '../errors.js';

export interface OperationContext {
  /** Records the step the operation is in, so progress is visible and a restart knows where it was. */
  phase(name: string, progress: number): Promise<void>;
}

export type OperationWork = (context: OperationContext) => Promise<Record<string, unknown> | null>;

export interface OperationTarget {
  type: 'vm';
  id: string;
  name: string;
  project: string;
}

/**
 * Runs long work as persisted Operations (Incus style): the caller gets the operation at once
 * (HTTP 202); the work goes on in the background and records its phase, result or error.
 */
export class OperationRunner {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = store.onEvent((events) => {
      for (const event of events) {
        if (event.type !== 'operation.updated') continue;
        for (const wake of this.waiters.get(event.subject.id) ?? []) wake();
      }
    });
  }

  async start(
    kind: OperationKind,
    target: OperationTarget,
    work: OperationWork,
  ): Promise<Operation> {
    const operation = await this.store.operations.create({
      kind,
      status: 'running',
      phase: 'started',
      progress: 0,
      target: { type: target.type, id: target.id, name: target.name },
      project: target.project,
    });
    const run = this.run(operation.id, work).finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
    return operation;
  }

  private async run(id: string, work: OperationWork): Promise<void> {
    const context: OperationContext = {
      phase: async (phase, progress) => {
        await this.store.operations.update(id, { phase, progress });
      },
    };
    try {
      const result = await work(context);
      await this.store.operations.update(id, {
        status: 'succeeded',
        phase: 'done',
        progress: 100,
        result,
      });
    } catch (error) {
      const domainError = toDomainError(error);
      if (domainError.code === 'INTERNAL')
        this.logger.error({ err: error, operation: id }, 'operation failed');
      const detail: ErrorDetail = {
        code: domainError.code,
        message: domainError.message,
        details: domainError.details,
      };
      await this.store.operations
        .update(id, { status: 'failed', error: detail })
        .catch((e: unknown) => {
          this.logger.error(
            { err: e, operation: id },
            'could not record the failure of an operation',
          );
        });
    }
  }

  /** The operation once it has ended, or as it stands when `timeoutMs` has passed. */
  async wait(id: string, timeoutMs: number): Promise<Operation | undefined> {
    const deadline = this.clock.now().getTime() + timeoutMs;
    for (;;) {
      const operation = await this.store.operations.get(id);
      if (operation === undefined || TERMINAL_OPERATION_STATUSES.includes(operation.status)) {
        return operation;
      }
      const left = deadline - this.clock.now().getTime();
      if (left <= 0) return operation;
      // Woken by the operation's own events; the poll bounds a missed wake-up (another replica).
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.get(id)?.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 1000));
        const set = this.waiters.get(id) ?? new Set();
        set.add(wake);
        this.waiters.set(id, set);
      });
      if (this.waiters.get(id)?.size === 0) this.waiters.delete(id);
    }
  }

  /**
   * Operations left unfinished by a previous server process end as failed with the reason, so
   * nobody waits forever. (Resuming from the recorded phase comes with the control-plane issue.)
   */
  async failInterrupted(): Promise<number> {
    const unfinished = await this.store.operations.listUnfinished();
    for (const operation of unfinished) {
      await this.store.operations.update(operation.id, {
        status: 'failed',
        error: {
          code: 'INTERNAL',
          message: `the server stopped while this operation was in phase '${operation.phase}'`,
        },
      });
    }
    return unfinished.length;
  }

  /** Waits for the operations in flight, then stops listening. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    this.unsubscribe();
  }
}
