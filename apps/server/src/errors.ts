import { httpStatusOf, type ErrorBody } from '@novacron/api';
import { DomainError, isDomainError } from '@novacron/domain';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

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
  const status = httpStatusOf(domainError.code);
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  const retryAfter = domainError.details.retryAfterSeconds;
  if (status === 429 && typeof retryAfter === 'number')
    void reply.header('retry-after', retryAfter);
  void reply.status(status).send(errorBody(domainError, request.id));
}

/**
 * Errors Node's HTTP parser meets before a request exists: a client too slow to send its request
 * within the request timeout, oversized headers, garbage. Answered with the usual error body
 * (when the socket still takes it), then the connection is closed.
 */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const domainError =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new DomainError(
          'REQUEST_TIMEOUT',
          'the request was not received in time: the connection is closed',
        )
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? new DomainError('HEADERS_TOO_LARGE', 'the request headers are too large')
        : new DomainError('VALIDATION_FAILED', 'malformed HTTP request', {
            ...(error.code === undefined ? {} : { cause: error.code }),
          });
  const status = httpStatusOf(domainError.code);
  const body = JSON.stringify(errorBody(domainError));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
