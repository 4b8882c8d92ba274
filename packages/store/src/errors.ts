/**
 * An update carried the version the caller read, and the row has moved on since: someone else
 * wrote it in between. The caller re-reads and decides again (optimistic concurrency).
 */
export class StaleVersionError extends Error {
  override readonly name = 'StaleVersionError';

  constructor(
    readonly resource: 'vm',
    readonly id: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(`${resource} ${id} is at version ${actualVersion}, not ${expectedVersion}`);
  }
}

export function isStaleVersionError(error: unknown): error is StaleVersionError {
  return error instanceof StaleVersionError;
}
