import type { ErrorBody, ErrorCode } from '@novacron/api';
import { DomainError, isDomainError } from '@novacron/domain';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** The one table from error code to HTTP status. Exhaustive: a new code does not compile here. */
export function statusOf(code: ErrorCode): number {
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
    case 'IMAGE_NOT_READY':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'NO_HOST_FITS':
      return 422;
    case 'RATE_LIMITED':
      return 429;
    case 'AGENT_ERROR':
    case 'QEMU_FAILED':
      return 502;
    case 'HOST_UNREACHABLE':
    case 'HOST_PREREQUISITE_MISSING':
      return 503;
    case 'INTERNAL':
      return 500;
  }
}

export function errorBody(error: DomainError, requestId?: string): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      details: error.details,
      ...(requestId === undefined ? {} : { requestId }),
    },
  };
}

/** Turns anything thrown by a route into the wire error body; unknown errors become INTERNAL. */
export function toDomainError(error: unknown): DomainError {
  if (isDomainError(error)) return error;
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation !== undefined) {
    return new DomainError('VALIDATION_FAILED', fastifyError.message ?? 'invalid request', {
      context: fastifyError.validationContext,
      issues: fastifyError.validation.map((v) => ({
        path: v.instancePath,
        message: v.message,
        params: v.params,
      })),
    });
  }
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new DomainError('PAYLOAD_TOO_LARGE', 'request body too large');
  }
  // Fastify's own 4xx: malformed JSON, wrong content type, bad content length.
  if (
    fastifyError.statusCode !== undefined &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return new DomainError('VALIDATION_FAILED', fastifyError.message ?? 'invalid request', {
      ...(fastifyError.code === undefined ? {} : { cause: fastifyError.code }),
    });
  }
  return new DomainError('INTERNAL', 'internal error');
}

export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const domainError = toDomainError(error);
  const status = statusOf(domainError.code);
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  void reply.status(status).send(errorBody(domainError, request.id));
}
