/**
 * Base of every error the client throws. Same shape as @novacron/domain's DomainError (a stable
 * `code`, a one-line `message`, structured `details`), so callers handle local and remote errors
 * alike.
 */
export class NovaCronError extends Error {
  override readonly name: string = 'NovaCronError';

  constructor(
    /** Usually one of @novacron/api's ERROR_CODES; a newer server may answer a code added later. */
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The server answered with a non-2xx status; `code`, `message` and `details` are its own. */
export class NovaCronApiError extends NovaCronError {
  override readonly name = 'NovaCronApiError';

  constructor(
    readonly status: number,
    code: string,
    message: string,
    details: Record<string, unknown> = {},
    readonly requestId?: string,
  ) {
    super(code, message, details);
  }
}

/** The server could not be reached at all (refused, reset, DNS, TLS). */
export class NovaCronConnectionError extends NovaCronError {
  override readonly name = 'NovaCronConnectionError';

  constructor(
    readonly url: string,
    reason: string,
    cause?: unknown,
  ) {
    super(
      'CONNECTION_FAILED',
      `cannot reach the NovaCron server at ${url}: ${reason}`,
      { url },
      {
        cause,
      },
    );
  }
}

export function isNovaCronError(error: unknown): error is NovaCronError {
  return error instanceof NovaCronError;
}
