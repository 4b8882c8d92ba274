import { Type, type Static } from 'typebox';
import { Timestamp } from './common.js';

/** Six digits, as an authenticator app shows them. */
export const TotpCode = Type.String({ pattern: '^[0-9]{6}$' });
/** A recovery code as shown at enrolment (`xxxxx-xxxxx`); case, spaces and dashes do not matter. */
export const RecoveryCode = Type.String({
  minLength: 10,
  maxLength: 32,
  pattern: '^[A-Za-z0-9 -]+$',
});
/** The proof of a checked password, from a SECOND_FACTOR_REQUIRED answer (details.challenge). */
export const LoginChallenge = Type.String({ minLength: 1, maxLength: 2048 });

export const LoginRequest = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 128 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    /** The current TOTP code, for a user with a second factor (else the login asks for it). */
    totpCode: Type.Optional(TotpCode),
    /** A one-time recovery code instead of the TOTP code. */
    recoveryCode: Type.Optional(RecoveryCode),
  },
  { additionalProperties: false },
);
export type LoginRequest = Static<typeof LoginRequest>;

export const LoginResponse = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  /** When the access token expires. */
  expiresAt: Timestamp,
});
export type LoginResponse = Static<typeof LoginResponse>;

/** Second step of a login: the challenge from SECOND_FACTOR_REQUIRED and a code. */
export const LoginSecondFactorRequest = Type.Object(
  {
    challenge: LoginChallenge,
    code: Type.Optional(TotpCode),
    recoveryCode: Type.Optional(RecoveryCode),
  },
  { additionalProperties: false },
);
export type LoginSecondFactorRequest = Static<typeof LoginSecondFactorRequest>;

/** Enrolment during a login, for a user who must have a second factor and has none yet. */
export const LoginTotpEnrolRequest = Type.Object(
  { challenge: LoginChallenge },
  { additionalProperties: false },
);
export type LoginTotpEnrolRequest = Static<typeof LoginTotpEnrolRequest>;

/** A new TOTP secret: shown once, here, and never again. */
export const TotpEnrolment = Type.Object({
  /** Base32 secret, for typing into an app that cannot scan. */
  secret: Type.String(),
  /** `otpauth://totp/NovaCron:<user>?secret=...` */
  uri: Type.String(),
  /** The URI's QR code, an SVG data URL (`<img src>`). */
  qrCode: Type.String(),
  /** One-time codes that stand in for a TOTP code (a lost phone); only their hashes are kept. */
  recoveryCodes: Type.Array(Type.String()),
});
export type TotpEnrolment = Static<typeof TotpEnrolment>;

export const TotpStatus = Type.Object({
  /** A verified factor: logins ask for a code. */
  enabled: Type.Boolean(),
  /** Enrolled and waiting for its first code (POST /api/v1/auth/totp/verify). */
  pending: Type.Boolean(),
  /** An admin requires a second factor of this user. */
  required: Type.Boolean(),
  /** The server requires a second factor of everyone (NOVACRON_TOTP_REQUIRED). */
  requiredForEveryone: Type.Boolean(),
  recoveryCodesLeft: Type.Integer({ minimum: 0 }),
});
export type TotpStatus = Static<typeof TotpStatus>;

export const TotpVerifyRequest = Type.Object({ code: TotpCode }, { additionalProperties: false });
export type TotpVerifyRequest = Static<typeof TotpVerifyRequest>;

/** Turning the factor off needs a current code or a recovery code (a stolen token alone cannot). */
export const TotpDisableRequest = Type.Object(
  { code: Type.Optional(TotpCode), recoveryCode: Type.Optional(RecoveryCode) },
  { additionalProperties: false },
);
export type TotpDisableRequest = Static<typeof TotpDisableRequest>;

export const TotpRequirement = Type.Object(
  { required: Type.Boolean() },
  { additionalProperties: false },
);
export type TotpRequirement = Static<typeof TotpRequirement>;

export const TotpRequirementParams = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 128 }),
});
