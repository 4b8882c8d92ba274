import type { ApiToken, RoleName } from '@novacron/api';
import type { StoredApiToken } from '@novacron/store';

/** An API token as the API shows it: never its secret or hash. */
export function tokenView(token: StoredApiToken): ApiToken {
  return {
    id: token.id,
    name: token.name,
    username: token.username,
    project: token.project,
    role: token.role as RoleName,
    expiresAt: token.expiresAt,
    revokedAt: token.revokedAt,
    lastUsedAt: token.lastUsedAt,
    createdAt: token.createdAt,
  };
}
