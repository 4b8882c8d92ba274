import type { ErrorCode } from '@novacron/api';

/**
 * An error a user can act on, with a stable code from @novacron/api. The server maps the code to
 * an HTTP status in one place; domain code never knows about HTTP.
 */
export class DomainError extends Error {
  override readonly name = 'DomainError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
