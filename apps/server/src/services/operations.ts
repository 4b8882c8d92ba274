import {
  TERMINAL_OPERATION_STATUSES,
  type ErrorDetail,
  type Operation,
  type OperationKind,
} from '@novacron/api';
import { DomainError, type Clock } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';
import { toDomainError } from '../errors.js';

export interface OperationContext {
  readonly operationId: string;
  /** Records the step the operation is in, so progress is visible and a restart knows where it was. */
  phase(name: string, progress: number): Promise<void>;
  /**
   * Aborted when a user cancels the operation. The work checks it between phases, undoes what it
   * did, and throws `cancelled()`; work that never checks simply finishes.
   */
  readonly signal: AbortSignal;
  /** Records what the work has decided so far (the operation's `metadata`), replacing it. */
  metadata(record: Record<string, unknown>): Promise<void>;
  /**
   * From now on a cancel is refused with OPERATION_NOT_CANCELLABLE and `reason` (e.g. a
   * migration after its switch to post-copy: the source no longer holds the whole guest).
   */
  refuseCancel(reason: string): void;
}

export type OperationWork = (context: OperationContext) => Promise<Record<string, unknown> | null>;

export interface OperationTarget {
  type: Operation['target']['type'];
  id: string;
  name: string;
  /** Null for cluster work (a host drain). */
  project: string | null;
}

/**
 * What a restarted server does with an operation it finds unfinished: run the work again from the
 * recorded phase (its agent calls are idempotent), or undo what the operation had recorded and end
 * it `failed` with INTERRUPTED. `undo` answers one line saying what it undid.
 */
export type Recovery = { resume: OperationWork } | { rollback: () => Promise<string> };

/** Chooses the recovery of one unfinished operation, from its kind and recorded phase. */
export type RecoveryPlan = (operation: Operation) => Promise<Recovery>;

/** Thrown by work that stopped because it was cancelled, once it has rolled back. */
export function cancelled(what: string): DomainError {
  return new DomainError('OPERATION_CANCELLED', `cancelled: ${what}`);
}

/**
 * Runs long work as persisted Operations (Incus style): the caller gets the operation at once
 * (HTTP 202); the work goes on in the background and records its phase, result or error.
 */
export class OperationRunner {
  private readonly inFlight = new Map<
    string,
    { run: Promise<void>; abort: AbortController; uncancellable?: string }
  >();
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
    this.launch(operation.id, work);
    return operation;
  }

  /** True while this process runs the operation's work. */
  isRunning(id: string): boolean {
    return this.inFlight.has(id);
  }

  /**
   * Asks a running operation to stop and roll back. Answers the operation as it stands: it ends
   * `cancelled` once its work has undone what it did, or `succeeded` if it finished first.
   * OPERATION_NOT_FOUND, or OPERATION_FINISHED when it had already ended.
   */
  async cancel(id: string): Promise<Operation> {
    const operation = await this.store.operations.get(id);
    if (operation === undefined) {
      throw new DomainError('OPERATION_NOT_FOUND', `operation '${id}' not found`);
    }
    if (TERMINAL_OPERATION_STATUSES.includes(operation.status)) {
      throw new DomainError(
        'OPERATION_FINISHED',
        `operation ${id} (${operation.kind}) already ended ${operation.status}`,
        { operation: id, status: operation.status },
      );
    }
    const running = this.inFlight.get(id);
    if (running?.uncancellable !== undefined) {
      throw new DomainError(
        'OPERATION_NOT_CANCELLABLE',
        `operation ${id} cannot be cancelled now: ${running.uncancellable}`,
        { operation: id, phase: operation.phase },
      );
    }
    if (running !== undefined) {
      running.abort.abort();
      return operation;
    }
    // Nobody runs it (its server stopped before recovery): nothing to undo but the record.
    const ended = await this.store.operations.update(
      id,
      { status: 'cancelled', error: errorDetail(cancelled(`phase '${operation.phase}'`)) },
      { onlyUnfinished: true },
    );
    if (ended === undefined) return this.cancel(id);
    return ended;
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
   * Resumes or rolls back every operation a previous server process left unfinished, as `plans`
   * says for its kind; a kind without a plan is rolled back with nothing to undo. Both go on in
   * the background like any operation (a host may take a while to come back); a rolled-back one
   * ends `failed` with INTERRUPTED and what was undone.
   */
  async recover(
    plans: Partial<Record<OperationKind, RecoveryPlan>>,
  ): Promise<{ resumed: number; rolledBack: number }> {
    let resumed = 0;
    let rolledBack = 0;
    for (const operation of await this.store.operations.listUnfinished()) {
      if (this.inFlight.has(operation.id)) continue;
      const interrupted = `the server stopped while this operation was in phase '${operation.phase}'`;
      const plan = plans[operation.kind];
      let recovery: Recovery;
      try {
        recovery =
          plan === undefined
            ? { rollback: () => Promise.resolve('nothing') }
            : await plan(operation);
      } catch (error) {
        recovery = {
          rollback: () => {
            throw error;
          },
        };
      }
      const where = { operation: operation.id, kind: operation.kind, phase: operation.phase };
      if ('resume' in recovery) {
        this.logger.info(where, 'resuming an operation interrupted by the last stop');
        this.launch(operation.id, recovery.resume);
        resumed += 1;
        continue;
      }
      this.logger.warn(where, 'rolling back an operation interrupted by the last stop');
      const { rollback } = recovery;
      this.launch(operation.id, async () => {
        let undone: string;
        try {
          undone = await rollback();
        } catch (error) {
          const reason = toDomainError(error);
          const why =
            reason.code === 'INTERNAL' && error instanceof Error ? error.message : reason.message;
          throw new DomainError('INTERRUPTED', `${interrupted}; rolling back failed: ${why}`, {
            cause: reason.code,
          });
        }
        throw new DomainError('INTERRUPTED', `${interrupted}; rolled back: ${undone}`);
      });
      rolledBack += 1;
    }
    return { resumed, rolledBack };
  }

  /** Waits for the operations in flight, then stops listening. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()].map((entry) => entry.run));
    this.unsubscribe();
  }

  private launch(id: string, work: OperationWork): void {
    const abort = new AbortController();
    const entry: { run: Promise<void>; abort: AbortController; uncancellable?: string } = {
      run: Promise.resolve(),
      abort,
    };
    this.inFlight.set(id, entry);
    entry.run = this.run(id, work, abort.signal, (reason) => {
      entry.uncancellable = reason;
    }).finally(() => this.inFlight.delete(id));
  }

  private async run(
    id: string,
    work: OperationWork,
    signal: AbortSignal,
    refuseCancel: (reason: string) => void,
  ): Promise<void> {
    const context: OperationContext = {
      operationId: id,
      signal,
      phase: async (phase, progress) => {
        await this.store.operations.update(id, { phase, progress }, { onlyUnfinished: true });
      },
      metadata: async (record) => {
        await this.store.operations.update(id, { metadata: record }, { onlyUnfinished: true });
      },
      refuseCancel,
    };
    try {
      const result = await work(context);
      await this.finish(id, 'succeeded', undefined, result);
    } catch (error) {
      const domainError = toDomainError(error);
      if (domainError.code === 'INTERNAL')
        this.logger.error({ err: error, operation: id }, 'operation failed');
      const status = domainError.code === 'OPERATION_CANCELLED' ? 'cancelled' : 'failed';
      await this.finish(id, status, errorDetail(domainError));
    }
  }

  private async finish(
    id: string,
    status: 'succeeded' | 'failed' | 'cancelled',
    error?: ErrorDetail,
    result?: Record<string, unknown> | null,
  ): Promise<void> {
    await this.store.operations
      .update(
        id,
        status === 'succeeded'
          ? { status, phase: 'done', progress: 100, result: result ?? null }
          : { status, error: error ?? null },
        { onlyUnfinished: true },
      )
      .catch((e: unknown) => {
        this.logger.error(
          { err: e, operation: id },
          `could not record that an operation ${status}`,
        );
      });
  }
}

function errorDetail(error: DomainError): ErrorDetail {
  return { code: error.code, message: error.message, details: error.details };
}
