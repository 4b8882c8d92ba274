import { createLogger } from '@novacron/telemetry';
import { describe, expect, it } from 'vitest';
import { lazyRequestLogger } from './request-logger.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(
    { level },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

describe('the request logger', () => {
  it('writes enabled levels with the request id, redacted, and skips the others', () => {
    const { logger, lines } = capture('warn');
    const log = lazyRequestLogger(logger, { reqId: 'req-7' }, {});
    log.info({ detail: 1 }, 'not written');
    log.debug('not written either');
    expect(lines).toEqual([]);
    log.warn({ password: 'hunter2', detail: 2 }, 'slow %s', 'disk');
    log.error('failed');
    expect(lines).toMatchObject([
      { level: 40, reqId: 'req-7', password: '[redacted]', detail: 2, msg: 'slow disk' },
      { level: 50, reqId: 'req-7', msg: 'failed' },
    ]);
    expect(log.level).toBe('warn');
  });

  it('follows a level set on it, and a route level from the start', () => {
    const { logger, lines } = capture('warn');
    const log = lazyRequestLogger(logger, { reqId: 'req-8' }, {});
    log.level = 'debug';
    log.debug('now written');
    expect(logger.level).toBe('warn');
    const routed = lazyRequestLogger(logger, { reqId: 'req-9' }, { level: 'info' });
    routed.info('route level');
    routed.child({ step: 'inner' }).info('inner');
    expect(lines).toMatchObject([
      { reqId: 'req-8', msg: 'now written' },
      { reqId: 'req-9', msg: 'route level' },
      { reqId: 'req-9', step: 'inner', msg: 'inner' },
    ]);
  });
});
