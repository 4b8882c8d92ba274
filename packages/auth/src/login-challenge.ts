import { createHmac } from 'node:crypto';
import type * as Jose from 'jose';

let jose: Promise<typeof Jose> | undefined;
const loadJose = () => (jose ??= import('jose'));

/** What the second step of a login may do: check a code, or enrol a factor the user must have. */
export type LoginChallengePurpose = 'totp' | 'totp-enrol';

export interface LoginChallenge {
  /** User id whose password was checked. */
  sub: string;
  purpose: LoginChallengePurpose;
}

export class InvalidChallengeError extends Error {
  override readonly name = 'InvalidChallengeError';
}

const AUDIENCE = 'novacron-login-challenge';

/**
 * The proof that a login passed its password step, carried to the second step. Stateless (a
 * signed JWT), so any server replica can finish the login; its key is derived from the token
 * secret with a label, so a challenge never passes as an access token or the other way round.
 */
export class LoginChallenges {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    readonly ttlSeconds = 5 * 60,
  ) {
    this.key = createHmac('sha256', Buffer.from(secret, 'base64url'))
      .update('novacron login challenge v1')
      .digest();
  }

  async issue(challenge: LoginChallenge, now: Date): Promise<{ token: string; expiresAt: Date }> {
    const issuedAt = Math.floor(now.getTime() / 1000);
    const { SignJWT } = await loadJose();
    const token = await new SignJWT({ purpose: challenge.purpose })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(challenge.sub)
      .setAudience(AUDIENCE)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + this.ttlSeconds)
      .sign(this.key);
    return { token, expiresAt: new Date((issuedAt + this.ttlSeconds) * 1000) };
  }

  async verify(token: string, now: Date): Promise<LoginChallenge> {
    const { jwtVerify } = await loadJose();
    try {
      const { payload } = await jwtVerify(token, this.key, {
        audience: AUDIENCE,
        algorithms: ['HS256'],
        currentDate: now,
      });
      const { sub, purpose } = payload;
      if (typeof sub !== 'string' || (purpose !== 'totp' && purpose !== 'totp-enrol')) {
        throw new InvalidChallengeError('login challenge invalid');
      }
      return { sub, purpose };
    } catch {
      throw new InvalidChallengeError('login challenge invalid or expired: log in again');
    }
  }
}
