import { createHash, randomBytes } from 'node:crypto';
import type * as Jose from 'jose';

// Loaded on first use: processes that never sign or verify a token (the agent) do not carry it.
let jose: Promise<typeof Jose> | undefined;
const loadJose = () => (jose ??= import('jose'));

export interface AccessClaims {
  /** User id. */
  sub: string;
  username: string;
  role: string;
  /** Session id, so logout can revoke. */
  sid: string;
}

/** The claims of a token that verified, with when it expires. */
export interface VerifiedAccess extends AccessClaims {
  /** ms since the epoch; infinite for a token without `exp` (none is issued so). */
  expiresAtMs: number;
}

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

const ISSUER = 'novacron';
const VERIFIED_CACHE_SIZE = 10_000;

/** Signs and verifies short-lived access tokens (HS256 with the cluster's secret). */
export class AccessTokens {
  private readonly key: Uint8Array;
  /** Tokens that verified, by their exact text, with their expiry. */
  readonly #verified = new Map<string, VerifiedAccess>();

  constructor(
    secret: string,
    readonly ttlSeconds = 15 * 60,
  ) {
    this.key = Buffer.from(secret, 'base64url');
    if (this.key.length < 32)
      throw new Error('the token signing secret must hold 32 bytes or more');
  }

  async issue(claims: AccessClaims, now: Date): Promise<{ token: string; expiresAt: Date }> {
    const issuedAt = Math.floor(now.getTime() / 1000);
    const expiresAt = new Date((issuedAt + this.ttlSeconds) * 1000);
    const { SignJWT } = await loadJose();
    const token = await new SignJWT({
      username: claims.username,
      role: claims.role,
      sid: claims.sid,
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuer(ISSUER)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + this.ttlSeconds)
      .sign(this.key);
    return { token, expiresAt };
  }

  async verify(token: string, now: Date): Promise<VerifiedAccess> {
    // A token that verified once verifies the same way until it expires: the HMAC (through
    // WebCrypto, with a key import each time) was the largest cost of a GET (bench:api).
    const known = this.#verified.get(token);
    if (known !== undefined) {
      if (now.getTime() < known.expiresAtMs) return { ...known };
      this.#verified.delete(token);
    }
    const { jwtVerify, errors } = await loadJose();
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        algorithms: ['HS256'],
        currentDate: now,
      });
      const { sub, username, role, sid, exp } = payload;
      if (
        typeof sub !== 'string' ||
        typeof username !== 'string' ||
        typeof role !== 'string' ||
        typeof sid !== 'string'
      ) {
        throw new InvalidTokenError('token claims are incomplete');
      }
      const claims = {
        sub,
        username,
        role,
        sid,
        expiresAtMs: typeof exp === 'number' ? exp * 1000 : Number.POSITIVE_INFINITY,
      };
      if (typeof exp === 'number') {
        // Bounded; the oldest entry goes first.
        if (this.#verified.size >= VERIFIED_CACHE_SIZE) {
          const oldest = this.#verified.keys().next();
          if (oldest.done !== true) this.#verified.delete(oldest.value);
        }
        this.#verified.set(token, claims);
      }
      return { ...claims };
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      if (error instanceof errors.JWTExpired) throw new InvalidTokenError('token expired');
      throw new InvalidTokenError('token invalid');
    }
  }
}

/** A new random secret for signing tokens, base64url. */
export function newSigningSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** An opaque refresh token; only its hash is stored. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A readable generated password for the first admin. */
export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** API tokens start with this, so that the server tells them from a JWT without parsing. */
export const API_TOKEN_PREFIX = 'nct_';

/** A new API token, shown once; only its hash is stored. */
export function newApiToken(): { token: string; hash: string } {
  const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashRefreshToken(token) };
}
