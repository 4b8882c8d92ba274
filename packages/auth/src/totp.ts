import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import type * as OtpAuth from 'otpauth';
import type * as QrCode from 'qrcode';

// Loaded on first use, like jose and argon2: the agent never needs them.
let otpauth: Promise<typeof OtpAuth> | undefined;
const loadOtpAuth = () => (otpauth ??= import('otpauth'));
let qrcode: Promise<typeof QrCode> | undefined;
// A CommonJS module: its exports arrive as `default`, and as named exports when Node detects them.
const loadQrCode = () =>
  (qrcode ??= import('qrcode').then(
    (m) => (m as typeof QrCode & { default?: typeof QrCode }).default ?? m,
  ));

/** RFC 6238 defaults, the only parameters every authenticator app reads from the URI. */
const PERIOD_SECONDS = 30;
const DIGITS = 6;
/** A code from the step before or after now is accepted (clock skew); any further is refused. */
export const TOTP_WINDOW_STEPS = 1;
const ISSUER = 'NovaCron';
const RECOVERY_CODE_COUNT = 10;

/** A new TOTP secret: 20 random bytes (160 bits, RFC 4226's recommendation), base32. */
export async function newTotpSecret(): Promise<string> {
  const { Secret } = await loadOtpAuth();
  return new Secret({ buffer: new Uint8Array(randomBytes(20)).buffer }).base32;
}

async function totpOf(secret: string, username: string) {
  const { Secret, TOTP } = await loadOtpAuth();
  return new TOTP({
    issuer: ISSUER,
    label: username,
    algorithm: 'SHA1',
    digits: DIGITS,
    period: PERIOD_SECONDS,
    secret: Secret.fromBase32(secret),
  });
}

/** The `otpauth://totp/...` URI an authenticator app reads (usually from its QR code). */
export async function totpUri(secret: string, username: string): Promise<string> {
  return (await totpOf(secret, username)).toString();
}

/** The QR code of `uri` as an SVG data URL, for an `<img src>`. */
export async function qrCodeSvgDataUrl(uri: string): Promise<string> {
  const { toString } = await loadQrCode();
  const svg = await toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/** The code of `secret` at `at` (what an authenticator app shows then). */
export async function totpCodeAt(secret: string, at: Date): Promise<string> {
  return (await totpOf(secret, '')).generate({ timestamp: at.getTime() });
}

/**
 * The time step `code` belongs to, when it is the code of the step of `now` or of one step
 * either side; else undefined. The caller refuses a step not newer than the last one used
 * (a replayed code).
 */
export async function matchTotpCode(
  secret: string,
  code: string,
  now: Date,
): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  const totp = await totpOf(secret, '');
  const delta = totp.validate({ token: code, timestamp: now.getTime(), window: TOTP_WINDOW_STEPS });
  if (delta === null) return undefined;
  return totp.counter({ timestamp: now.getTime() }) + delta;
}

/** Ten one-time recovery codes, `xxxxx-xxxxx` from a 32-letter alphabet (50 bits each). */
export function newRecoveryCodes(): string[] {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789'; // no 0/o, 1/l/i
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const bytes = randomBytes(10);
    const letters = [...bytes].map((b) => alphabet[b % 31] ?? 'a').join('');
    return `${letters.slice(0, 5)}-${letters.slice(5)}`;
  });
}

/** What is stored of a recovery code: its SHA-256, after dropping case, spaces and dashes. */
export function hashRecoveryCode(code: string): string {
  const normalized = code.toLowerCase().replace(/[\s-]/g, '');
  return createHash('sha256').update(normalized).digest('hex');
}

/**
 * Encrypts small secrets at rest (AES-256-GCM). The key comes from the caller (the server keeps
 * its own in the settings), so a copy of the table alone discloses no TOTP secret.
 */
export class SecretBox {
  private readonly key: Buffer;

  /** `secret`: base64url, 32 bytes or more; the AES key is derived from it with a label. */
  constructor(secret: string) {
    const raw = Buffer.from(secret, 'base64url');
    if (raw.length < 32) throw new Error('the secret box key must hold 32 bytes or more');
    this.key = createHmac('sha256', raw).update('novacron secret box v1').digest();
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), body].map((p) => p.toString('base64url'));
    return ['v1', ...parts].join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || iv === undefined || tag === undefined || body === undefined) {
      throw new Error('not a sealed secret');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([
      decipher.update(Buffer.from(body, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  }
}
