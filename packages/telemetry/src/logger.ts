import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line, wherever they appear in a logged object. */
const REDACT = [
  'password',
  '*.password',
  'adminPassword',
  '*.adminPassword',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'challenge',
  '*.challenge',
  'totpCode',
  '*.totpCode',
  'recoveryCode',
  '*.recoveryCode',
  'recoveryCodes',
  '*.recoveryCodes',
  'secret',
  '*.secret',
  'req.headers.authorization',
  'headers.authorization',
  'req.headers.cookie',
  'headers.cookie',
];

/** A pino logger with the secrets redacted; to stdout unless `destination` (tests) says otherwise. */
export function createLogger(
  options: { level: string; name?: string },
  destination?: DestinationStream,
): Logger {
  const settings = {
    level: options.level,
    ...(options.name === undefined ? {} : { name: options.name }),
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  return destination === undefined ? pino(settings) : pino(settings, destination);
}
