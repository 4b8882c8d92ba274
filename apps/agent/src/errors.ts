import { httpStatusOf, type ErrorBody, type ErrorCode } from '@novacron/api';
import { isDomainError } from '@novacron/domain';

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
