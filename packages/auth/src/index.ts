/**
 * @novacron/auth — passwords (argon2id), access tokens (JWT), refresh tokens. May import only
 * @novacron/api and @novacron/domain from the workspace; the RBAC policy added here stays pure.
 */
export { hashPassword, verifyPassword } from './passwords.js';
export {
  AccessTokens,
  hashRefreshToken,
  InvalidTokenError,
  newPassword,
  newRefreshToken,
  newSigningSecret,
  type AccessClaims,
} from './tokens.js';
