/**
 * @novacron/auth — passwords (argon2id), access tokens (JWT), refresh tokens, and cluster trust:
 * the cluster CA, certificates, join tokens and mutual-TLS plumbing (docs/adr/0008). May import
 * only @novacron/api and @novacron/domain from the workspace; the RBAC policy added here stays pure.
 */
export { hashPassword, verifyPassword } from './passwords.js';
export {
  hashRecoveryCode,
  matchTotpCode,
  newRecoveryCodes,
  newTotpSecret,
  qrCodeSvgDataUrl,
  SecretBox,
  TOTP_WINDOW_STEPS,
  totpCodeAt,
  totpUri,
} from './totp.js';
export {
  InvalidChallengeError,
  LoginChallenges,
  type LoginChallenge,
  type LoginChallengePurpose,
} from './login-challenge.js';
export {
  DEFAULT_LOGIN_THROTTLE,
  LoginThrottle,
  type LoginThrottleOptions,
  type ThrottleVerdict,
} from './login-throttle.js';
export {
  AccessTokens,
  API_TOKEN_PREFIX,
  newApiToken,
  hashRefreshToken,
  InvalidTokenError,
  newPassword,
  newRefreshToken,
  newSigningSecret,
  type AccessClaims,
} from './tokens.js';
export {
  CA_VALIDITY_DAYS,
  certificateAddresses,
  certificateFingerprint,
  ClusterCa,
  createCertificateRequest,
  identityOfCertificate,
  LEAF_VALIDITY_DAYS,
  MAX_CERTIFICATE_ADDRESSES,
  peerIdentityOf,
  PkiError,
  SERVER_PEER_NAME,
  subjectAltNames,
  verifyCertificate,
  type CertificateCheck,
  type PeerIdentity,
  type PeerRole,
  type TlsIdentity,
  type ValidityOptions,
} from './pki/certificates.js';
export {
  identityFiles,
  loadIdentity,
  loadOrCreateCa,
  saveIdentity,
  writeFileAtomic,
} from './pki/files.js';
export {
  JOIN_TOKEN_TTL_SECONDS,
  newJoinToken,
  parseJoinToken,
  type ParsedJoinToken,
} from './pki/join-token.js';
export {
  clusterAgent,
  clusterRequest,
  expectPeer,
  fetchPinnedCa,
  peerOfSocket,
  readText,
  type ClusterRequestOptions,
  type ExpectedPeer,
} from './pki/mtls.js';
export {
  authorize,
  canDelegate,
  isPermission,
  isRole,
  PERMISSIONS,
  ROLE_PERMISSIONS,
  ROLES,
  visibleProjects,
  type Decision,
  type Permission,
  type Principal,
  type Role,
  type RoleBinding,
} from './policy.js';
