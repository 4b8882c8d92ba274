import { Type, type Static } from 'typebox';

/**
 * Every error code NovaCron answers with. Stable: clients and scripts match on these strings, so
 * a code is added, never renamed. The HTTP status of each lives in the server's error handler.
 */
export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'INVALID_NAME',
  'INVALID_SIZE',
  'UNAUTHENTICATED',
  'INVALID_CREDENTIALS',
  'FORBIDDEN',
  'ROUTE_NOT_FOUND',
  'VM_NOT_FOUND',
  'HOST_NOT_FOUND',
  'IMAGE_NOT_FOUND',
  'PROJECT_NOT_FOUND',
  'OPERATION_NOT_FOUND',
  'VM_NAME_TAKEN',
  'VM_INVALID_STATE',
  'NO_HOST_FITS',
  'HOST_UNREACHABLE',
  'IMAGE_NOT_READY',
  'AGENT_ERROR',
  'QEMU_FAILED',
  'HOST_PREREQUISITE_MISSING',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorCodeSchema = Type.Enum(ERROR_CODES);

export const ErrorDetail = Type.Object({
  code: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  requestId: Type.Optional(Type.String()),
});
export type ErrorDetail = Static<typeof ErrorDetail>;

/** The body of every 4xx and 5xx answer. */
export const ErrorBody = Type.Object({ error: ErrorDetail });
export type ErrorBody = Static<typeof ErrorBody>;
