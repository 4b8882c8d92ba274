import { createHash, randomBytes } from 'node:crypto';
import { JOIN_TOKEN_PATTERN } from '@novacron/api';

/** How long a join token is valid unless said otherwise. */
export const JOIN_TOKEN_TTL_SECONDS = 60 * 60;

const PREFIX = 'ncj1';
const TOKEN = new RegExp(JOIN_TOKEN_PATTERN);

/** What a join token says: its secret (whose hash the server keeps) and the CA to trust. */
export interface ParsedJoinToken {
  secretHash: string;
  caFingerprint: string;
}

/**
 * A new one-time join token: `ncj1.<secret>.<CA fingerprint>`. The secret is shown once and only
 * its hash is stored; the fingerprint lets the agent check the server before sending the secret.
 */
export function newJoinToken(caFingerprint: string): { token: string; secretHash: string } {
  if (!/^[0-9a-f]{64}$/.test(caFingerprint)) throw new Error('a CA fingerprint is 64 hex digits');
  const secret = randomBytes(32).toString('base64url');
  return { token: `${PREFIX}.${secret}.${caFingerprint}`, secretHash: hashSecret(secret) };
}

/** Undefined when `token` is not shaped like a join token. */
export function parseJoinToken(token: string): ParsedJoinToken | undefined {
  const trimmed = token.trim();
  if (!TOKEN.test(trimmed)) return undefined;
  const [, secret = '', caFingerprint = ''] = trimmed.split('.');
  return { secretHash: hashSecret(secret), caFingerprint };
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
