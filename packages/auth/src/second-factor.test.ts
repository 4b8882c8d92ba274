import { describe, expect, it } from 'vitest';
import { InvalidChallengeError, LoginChallenges } from './login-challenge.js';
import { LoginThrottle } from './login-throttle.js';
import { AccessTokens, newSigningSecret } from './tokens.js';
import {
  hashRecoveryCode,
  matchTotpCode,
  newRecoveryCodes,
  newTotpSecret,
  qrCodeSvgDataUrl,
  SecretBox,
  totpCodeAt,
  totpUri,
} from './totp.js';

describe('TOTP', () => {
  const now = new Date('2026-01-01T00:00:10Z');
  const step = Math.floor(now.getTime() / 30_000);

  it('matches the code of this step and of one step either side, and nothing further', async () => {
    const secret = await newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const at = (steps: number) => new Date(now.getTime() + steps * 30_000);
    expect(await matchTotpCode(secret, await totpCodeAt(secret, now), now)).toBe(step);
    expect(await matchTotpCode(secret, await totpCodeAt(secret, at(-1)), now)).toBe(step - 1);
    expect(await matchTotpCode(secret, await totpCodeAt(secret, at(1)), now)).toBe(step + 1);
    expect(await matchTotpCode(secret, await totpCodeAt(secret, at(-2)), now)).toBeUndefined();
    expect(await matchTotpCode(secret, await totpCodeAt(secret, at(2)), now)).toBeUndefined();
    expect(await matchTotpCode(secret, '12345', now)).toBeUndefined();
    expect(await matchTotpCode(secret, 'abcdef', now)).toBeUndefined();
  });

  it('writes an otpauth URI and its QR code', async () => {
    const secret = await newTotpSecret();
    const uri = await totpUri(secret, 'ops');
    expect(uri).toBe(
      `otpauth://totp/NovaCron:ops?issuer=NovaCron&secret=${secret}&algorithm=SHA1&digits=6&period=30`,
    );
    const qr = await qrCodeSvgDataUrl(uri);
    expect(qr).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(Buffer.from(qr.split(',')[1] ?? '', 'base64').toString()).toContain('<svg');
  });

  it('makes distinct recovery codes whose hash ignores case and dashes', () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    const first = codes[0] ?? '';
    expect(hashRecoveryCode(first.toUpperCase().replace('-', ' '))).toBe(hashRecoveryCode(first));
  });
});

describe('SecretBox', () => {
  it('opens what it sealed, and refuses another key or a changed box', () => {
    const box = new SecretBox(newSigningSecret());
    const sealed = box.seal('JBSWY3DPEHPK3PXP');
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.open(sealed)).toBe('JBSWY3DPEHPK3PXP');
    expect(() => new SecretBox(newSigningSecret()).open(sealed)).toThrow();
    const parts = sealed.split('.');
    parts[3] = Buffer.from('changed').toString('base64url');
    expect(() => box.open(parts.join('.'))).toThrow();
  });
});

describe('login challenges', () => {
  it('round-trip, expire, and never pass for an access token or the other way round', async () => {
    const secret = newSigningSecret();
    const challenges = new LoginChallenges(secret, 60);
    const now = new Date('2026-01-01T00:00:00Z');
    const { token } = await challenges.issue({ sub: 'u1', purpose: 'totp' }, now);
    await expect(challenges.verify(token, now)).resolves.toEqual({ sub: 'u1', purpose: 'totp' });
    await expect(challenges.verify(token, new Date('2026-01-01T00:02:00Z'))).rejects.toThrow(
      InvalidChallengeError,
    );
    const tokens = new AccessTokens(secret);
    await expect(tokens.verify(token, now)).rejects.toThrow();
    const access = await tokens.issue({ sub: 'u1', username: 'a', role: 'admin', sid: 's' }, now);
    await expect(challenges.verify(access.token, now)).rejects.toThrow(InvalidChallengeError);
  });
});

describe('LoginThrottle', () => {
  const options = {
    maxFailuresPerUser: 3,
    maxFailuresPerAddress: 5,
    windowMs: 60_000,
    lockoutMs: 120_000,
    maxKeys: 100,
  };
  const t = (seconds: number) => new Date(1_000_000 + seconds * 1000);

  it('locks a username after N failures in the window, for the lockout time', () => {
    const throttle = new LoginThrottle(options);
    expect(throttle.failure('ops', '10.0.0.1', t(0))).toEqual([]);
    expect(throttle.failure('OPS', '10.0.0.2', t(1))).toEqual([]);
    expect(throttle.check('ops', '10.0.0.3', t(2))).toEqual({ locked: false });
    expect(throttle.failure('ops', '10.0.0.3', t(2))).toEqual(['user:ops']);
    expect(throttle.check('ops', '10.0.0.9', t(3))).toEqual({
      locked: true,
      retryAfterSeconds: 119,
    });
    expect(throttle.check('other', '10.0.0.9', t(3))).toEqual({ locked: false });
    expect(throttle.check('ops', '10.0.0.9', t(122))).toEqual({ locked: false });
  });

  it('forgets failures older than the window, and a success clears the user', () => {
    const throttle = new LoginThrottle(options);
    throttle.failure('ops', 'a', t(0));
    throttle.failure('ops', 'a', t(1));
    expect(throttle.failure('ops', 'a', t(70))).toEqual([]);
    throttle.failure('ops', 'a', t(71));
    throttle.success('ops');
    expect(throttle.failure('ops', 'a', t(72))).toEqual([]);
  });

  it('locks a source address that guesses many usernames', () => {
    const throttle = new LoginThrottle(options);
    for (let i = 0; i < 4; i++) expect(throttle.failure(`user${i}`, '10.9.9.9', t(i))).toEqual([]);
    expect(throttle.failure('user4', '10.9.9.9', t(4))).toEqual(['address:10.9.9.9']);
    expect(throttle.check('anyone', '10.9.9.9', t(5)).locked).toBe(true);
    expect(throttle.check('anyone', '10.9.9.8', t(5)).locked).toBe(false);
  });

  it('keeps at most maxKeys keys', () => {
    const throttle = new LoginThrottle({ ...options, maxKeys: 4 });
    for (let i = 0; i < 10; i++) throttle.failure(`u${i}`, `a${i}`, t(0));
    throttle.failure('u0', 'a0', t(1));
    throttle.failure('u0', 'a0', t(2));
    // u0's first failure was forgotten with the oldest keys: two failures, not three.
    expect(throttle.check('u0', 'x', t(3)).locked).toBe(false);
  });
});
