import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './passwords.js';
import { AccessTokens, InvalidTokenError, newSigningSecret } from './tokens.js';

describe('passwords', () => {
  it('hashes with argon2id and verifies only the right password', async () => {
    const stored = await hashPassword('correct horse');
    expect(stored).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(stored, 'correct horse')).toBe(true);
    expect(await verifyPassword(stored, 'wrong')).toBe(false);
    expect(await verifyPassword('not-a-hash', 'x')).toBe(false);
  });
});

describe('access tokens', () => {
  const claims = { sub: 'u1', username: 'admin', role: 'admin', sid: 's1' };

  it('round-trips claims and refuses expired, foreign and tampered tokens', async () => {
    const tokens = new AccessTokens(newSigningSecret(), 60);
    const now = new Date('2026-01-01T00:00:00Z');
    const { token, expiresAt } = await tokens.issue(claims, now);
    expect(expiresAt.toISOString()).toBe('2026-01-01T00:01:00.000Z');
    await expect(tokens.verify(token, now)).resolves.toEqual({
      ...claims,
      expiresAtMs: expiresAt.getTime(),
    });

    const later = new Date('2026-01-01T00:02:00Z');
    await expect(tokens.verify(token, later)).rejects.toThrow(InvalidTokenError);
    const other = new AccessTokens(newSigningSecret());
    await expect(other.verify(token, now)).rejects.toThrow(InvalidTokenError);
    await expect(tokens.verify(`${token}x`, now)).rejects.toThrow(InvalidTokenError);
  });
});
