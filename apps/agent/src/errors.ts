import type { ErrorBody, ErrorCode } from '@novacron/api';
import { isDomainError } from '@novacron/domain';

/** HTTP status of each error code, for the agent's API (exhaustive: a new code must be placed). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'VALIDATION_FAILED':
    case 'INVALID_NAME':
    case 'INVALID_SIZE':
      return 400;
    case 'UNAUTHENTICATED':
    case 'INVALID_CREDENTIALS':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'ROUTE_NOT_FOUND':
    case 'VM_NOT_FOUND':
    case 'HOST_NOT_FOUND':
    case 'IMAGE_NOT_FOUND':
    case 'PROJECT_NOT_FOUND':
    case 'OPERATION_NOT_FOUND':
      return 404;
    case 'VM_NAME_TAKEN':
    case 'VM_INVALID_STATE':
    case 'NO_HOST_FITS':
    case 'IMAGE_NOT_READY':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'RATE_LIMITED':
      return 429;
    case 'HOST_UNREACHABLE':
      return 502;
    case 'HOST_PREREQUISITE_MISSING':
      return 503;
    case 'AGENT_ERROR':
    case 'QEMU_FAILED':
    case 'INTERNAL':
      return 500;
  }
}

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  message?: unknown;
}

/** Turns anything thrown in a route into the wire error body and its status. */
export function toErrorReply(
  error: unknown,
  requestId: string,
): { status: number; body: ErrorBody; unexpected: boolean } {
  const body = (code: ErrorCode, message: string, details: Record<string, unknown> = {}) => ({
    status: httpStatusOf(code),
    body: { error: { code, message, details, requestId } },
    unexpected: false,
  });
  if (isDomainError(error)) return body(error.code, error.message, error.details);
  const fastify = (typeof error === 'object' && error !== null ? error : {}) as FastifyLikeError;
  const message = typeof fastify.message === 'string' ? fastify.message : 'request failed';
  if (fastify.validation !== undefined) {
    return body('VALIDATION_FAILED', message, { issues: fastify.validation });
  }
  if (fastify.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return body('PAYLOAD_TOO_LARGE', message);
  if (
    typeof fastify.statusCode === 'number' &&
    fastify.statusCode >= 400 &&
    fastify.statusCode < 500
  ) {
    // Malformed JSON, wrong content type and the like: the client's to fix.
    return body('VALIDATION_FAILED', message, { reason: fastify.code ?? null });
  }
  return { ...body('INTERNAL', 'internal error in the agent'), unexpected: true };
}
