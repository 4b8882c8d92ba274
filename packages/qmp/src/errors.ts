/** Every error this package throws carries a stable `code`, so callers match on codes, not text. */
export type QmpErrorCode =
  'QMP_DISCONNECTED' | 'QMP_TIMEOUT' | 'QMP_COMMAND_FAILED' | 'QMP_PROTOCOL_ERROR';

export abstract class QmpError extends Error {
  abstract readonly code: QmpErrorCode;
}

/** The connection is gone (or never came up): QEMU exited, the socket closed or was refused. */
export class QmpDisconnectedError extends QmpError {
  override readonly name = 'QmpDisconnectedError';
  readonly code = 'QMP_DISCONNECTED';
}

/** No answer within the deadline: `command` is the QMP command, or `connect` for the handshake. */
export class QmpTimeoutError extends QmpError {
  override readonly name = 'QmpTimeoutError';
  readonly code = 'QMP_TIMEOUT';

  constructor(
    readonly command: string,
    readonly timeoutMs: number | null,
  ) {
    super(
      timeoutMs === null
        ? `QMP ${command} timed out`
        : `QMP ${command} got no answer within ${timeoutMs} ms`,
    );
  }
}

/** QEMU answered with an error object: `class` and `desc` are QEMU's own. */
export class QmpCommandError extends QmpError {
  override readonly name = 'QmpCommandError';
  readonly code = 'QMP_COMMAND_FAILED';
  /** QEMU's error class (`GenericError`, `CommandNotFound`, `DeviceNotActive`, ...). */
  readonly class: string;

  constructor(
    readonly command: string,
    errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`);
    this.class = errorClass;
  }
}

/** The peer does not speak QMP: no greeting, or a line that is not a JSON object. */
export class QmpProtocolError extends QmpError {
  override readonly name = 'QmpProtocolError';
  readonly code = 'QMP_PROTOCOL_ERROR';
}
