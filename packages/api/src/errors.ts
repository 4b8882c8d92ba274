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
  'JOIN_TOKEN_INVALID',
  'FORBIDDEN',
  'ROUTE_NOT_FOUND',
  'VM_NOT_FOUND',
  'HOST_NOT_FOUND',
  'IMAGE_NOT_FOUND',
  'PROJECT_NOT_FOUND',
  'OPERATION_NOT_FOUND',
  'OPERATION_FINISHED',
  'OPERATION_CANCELLED',
  'OPERATION_NOT_CANCELLABLE',
  'INTERRUPTED',
  'VM_NAME_TAKEN',
  'IMAGE_NAME_TAKEN',
  'IMAGE_IN_USE',
  'IMAGE_DOWNLOAD_FAILED',
  'HOST_NAME_TAKEN',
  'VM_INVALID_STATE',
  'SNAPSHOT_NOT_FOUND',
  'SNAPSHOT_NAME_TAKEN',
  'VM_IS_TEMPLATE',
  'VM_HAS_SNAPSHOTS',
  'TEMPLATE_IN_USE',
  'NO_HOST_FITS',
  'MIGRATION_NOT_POSSIBLE',
  'MIGRATION_FAILED',
  'HOST_UNREACHABLE',
  'IMAGE_NOT_READY',
  'AGENT_ERROR',
  'QEMU_FAILED',
  'IMAGE_CORRUPT',
  'HOST_PREREQUISITE_MISSING',
  'PAYLOAD_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'HEADERS_TOO_LARGE',
  'RATE_LIMITED',
  'SLOW_CONSUMER',
  'QUOTA_EXCEEDED',
  'PROJECT_NAME_TAKEN',
  'PROJECT_NOT_EMPTY',
  'USER_NOT_FOUND',
  'USER_NAME_TAKEN',
  'ROLE_BINDING_NOT_FOUND',
  'TOKEN_NOT_FOUND',
  'LOGIN_LOCKED',
  'SECOND_FACTOR_REQUIRED',
  'INVALID_SECOND_FACTOR',
  'SECOND_FACTOR_CONFLICT',
  'TOKEN_IN_URL',
  'CLOUD_INIT_INVALID',
  'IMAGE_INVALID',
  'DISK_SHRINK_REFUSED',
  'HOTPLUG_NOT_SUPPORTED',
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

/**
 * The one table from error code to HTTP status, shared by the server and the agents. Exhaustive:
 * a new code does not compile until it is placed here.
 */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'VALIDATION_FAILED':
    case 'INVALID_NAME':
    case 'INVALID_SIZE':
    case 'TOKEN_IN_URL':
    case 'CLOUD_INIT_INVALID':
    case 'IMAGE_INVALID':
      return 400;
    case 'UNAUTHENTICATED':
    case 'INVALID_CREDENTIALS':
    case 'JOIN_TOKEN_INVALID':
    case 'SECOND_FACTOR_REQUIRED':
    case 'INVALID_SECOND_FACTOR':
      return 401;
    case 'FORBIDDEN':
    case 'QUOTA_EXCEEDED':
      return 403;
    case 'ROUTE_NOT_FOUND':
    case 'VM_NOT_FOUND':
    case 'HOST_NOT_FOUND':
    case 'IMAGE_NOT_FOUND':
    case 'PROJECT_NOT_FOUND':
    case 'OPERATION_NOT_FOUND':
    case 'USER_NOT_FOUND':
    case 'ROLE_BINDING_NOT_FOUND':
    case 'TOKEN_NOT_FOUND':
    case 'SNAPSHOT_NOT_FOUND':
      return 404;
    case 'VM_NAME_TAKEN':
    case 'IMAGE_NAME_TAKEN':
    case 'IMAGE_IN_USE':
    case 'HOST_NAME_TAKEN':
    case 'VM_INVALID_STATE':
    case 'SNAPSHOT_NAME_TAKEN':
    case 'VM_IS_TEMPLATE':
    case 'VM_HAS_SNAPSHOTS':
    case 'TEMPLATE_IN_USE':
    case 'IMAGE_NOT_READY':
    case 'OPERATION_FINISHED':
    case 'OPERATION_CANCELLED':
    case 'OPERATION_NOT_CANCELLABLE':
    case 'MIGRATION_NOT_POSSIBLE':
    case 'SECOND_FACTOR_CONFLICT':
    case 'PROJECT_NAME_TAKEN':
    case 'PROJECT_NOT_EMPTY':
    case 'USER_NAME_TAKEN':
    case 'DISK_SHRINK_REFUSED':
    case 'HOTPLUG_NOT_SUPPORTED':
      return 409;
    case 'REQUEST_TIMEOUT':
      return 408;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'HEADERS_TOO_LARGE':
      return 431;
    case 'NO_HOST_FITS':
      return 422;
    case 'RATE_LIMITED':
    case 'SLOW_CONSUMER':
    case 'LOGIN_LOCKED':
      return 429;
    case 'IMAGE_DOWNLOAD_FAILED':
    case 'AGENT_ERROR':
    case 'QEMU_FAILED':
    case 'IMAGE_CORRUPT':
    case 'MIGRATION_FAILED':
      return 502;
    case 'HOST_UNREACHABLE':
    case 'HOST_PREREQUISITE_MISSING':
    case 'INTERRUPTED':
      return 503;
    case 'INTERNAL':
      return 500;
  }
}
