import { CommanderError } from 'commander';
import { isNovaCronError, NovaCronApiError } from '@novacron/client';
import { ConfigError } from '@novacron/config';
import { isDomainError } from '@novacron/domain';

/**
 * A failure the CLI finds itself (bad usage, a failed or unfinished operation). Same shape as the
 * API's errors so that every failure prints alike.
 */
export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** 2 for usage errors and things not available, 1 for everything else. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** What the CLI prints about a failure: the wire error shape plus the exit code. */
export interface ErrorReport {
  code: string;
  message: string;
  details: Record<string, unknown>;
  requestId?: string;
  exitCode: number;
}

/** Maps anything thrown to a report; an unexpected error becomes INTERNAL rather than a stack trace. */
export function describeError(error: unknown): ErrorReport {
  if (error instanceof CliError) {
    return {
      code: error.code,
      message: error.message,
      details: error.details,
      exitCode: error.exitCode,
    };
  }
  if (error instanceof NovaCronApiError) {
    return {
      code: error.code,
      message: error.message,
      details: error.details,
      ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
      exitCode: 1,
    };
  }
  if (isNovaCronError(error) || isDomainError(error)) {
    return { code: error.code, message: error.message, details: error.details, exitCode: 1 };
  }
  if (error instanceof ConfigError) {
    return { code: 'CONFIG_INVALID', message: error.message, details: {}, exitCode: 1 };
  }
  if (error instanceof CommanderError) {
    // Commander's messages start with its own "error: ".
    return {
      code: 'USAGE',
      message: error.message.replace(/^error:\s*/, ''),
      details: {},
      exitCode: 2,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'INTERNAL', message, details: {}, exitCode: 1 };
}

/** A hint for the errors a user most often meets first. */
function hintFor(code: string): string {
  switch (code) {
    case 'UNAUTHENTICATED':
      return " (run 'novacron login' or set NOVACRON_TOKEN)";
    case 'CONNECTION_FAILED':
      return " (is the server running? 'novacron up' starts one; NOVACRON_SERVER_URL points elsewhere)";
    default:
      return '';
  }
}

/** `error: CODE: message` on one line, for people. */
export function formatErrorLine(report: ErrorReport): string {
  const message = report.message.replace(/\s*\n\s*/g, ' ').trim();
  return `error: ${report.code}: ${message}${hintFor(report.code)}\n`;
}

/** The error in the API's wire shape, for scripts. */
export function errorBody(report: ErrorReport): { error: Omit<ErrorReport, 'exitCode'> } {
  const { code, message, details, requestId } = report;
  return { error: { code, message, details, ...(requestId === undefined ? {} : { requestId }) } };
}
