import { pino, type Logger } from 'pino';

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
  'req.headers.authorization',
  'headers.authorization',
];

export function createLogger(options: { level: string; name?: string }): Logger {
  return pino({
    level: options.level,
    ...(options.name === undefined ? {} : { name: options.name }),
    redact: { paths: REDACT, censor: '[redacted]' },
  });
}
