import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

describe('createLogger', () => {
  it('never writes a token, password, code or secret', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const secrets = {
      password: 'pw-secret-1',
      token: 'tok-secret-2',
      accessToken: 'tok-secret-3',
      refreshToken: 'tok-secret-4',
      totpCode: '123456',
      recoveryCode: 'abcde-fghij',
      recoveryCodes: ['abcde-fghij'],
      challenge: 'challenge-secret-5',
      secret: 'JBSWY3DPEHPK3PXP',
    };
    logger.info(secrets, 'top level');
    logger.info({ body: secrets }, 'nested');
    logger.info(
      { req: { headers: { authorization: 'Bearer tok-secret-6', cookie: 'sid=tok-secret-7' } } },
      'request',
    );
    expect(lines).toHaveLength(3);
    const text = lines.join('');
    for (const value of [
      'pw-secret',
      'tok-secret',
      '123456',
      'abcde',
      'challenge-secret',
      'JBSW',
    ]) {
      expect(text).not.toContain(value);
    }
    expect(text).toContain('[redacted]');
  });
});
