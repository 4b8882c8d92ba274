import { Type, type Static } from 'typebox';
import { Timestamp } from './common.js';

export const LoginRequest = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 128 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
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
