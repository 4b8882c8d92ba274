import { LoginRequest, LoginResponse } from '@novacron/api';
import { hashPassword, newPassword, newRefreshToken, verifyPassword } from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import type { User } from '@novacron/store';
import type { ServerApp, ServerDeps } from '../../deps.js';

const REFRESH_TTL_MS = 30 * 24 * 3600 * 1000;

export function registerLogin(app: ServerApp, deps: ServerDeps): void {
  // Verified against when the user does not exist, so both answers take the same time.
  const dummyHash = hashPassword(newPassword());
  app.post(
    '/api/v1/auth/login',
    {
      config: { permission: 'public', action: 'auth.login' },
      schema: {
        description:
          'Password login. A user with a second factor sends `totpCode` (or `recoveryCode`) too, or gets 401 SECOND_FACTOR_REQUIRED with `details.challenge` to finish at POST /api/v1/auth/login/second-factor (`details.enrol` true: the user must enrol first, POST /api/v1/auth/login/totp-enrol). Failures lock the username and the source address for a while: 429 LOGIN_LOCKED with Retry-After.',
        body: LoginRequest,
        response: { 200: LoginResponse },
      },
    },
    async (request) => {
      const { username, password, totpCode, recoveryCode } = request.body;
      deps.loginGuard.assertOpen(username, request.ip);
      const user = await deps.store.users.getByUsername(username);
      const valid = await verifyPassword(user?.passwordHash ?? (await dummyHash), password);
      if (user === undefined || !valid) {
        deps.loginGuard.failed(username, request.ip, 'invalid_credentials');
        throw new DomainError('INVALID_CREDENTIALS', 'wrong username or password');
      }
      const needed = (await deps.secondFactors?.needed(user)) ?? 'none';
      if (needed === 'totp' && (totpCode !== undefined || recoveryCode !== undefined)) {
        if (!(await deps.secondFactors?.check(user.id, { code: totpCode, recoveryCode }))) {
          deps.loginGuard.failed(username, request.ip, 'invalid_second_factor');
          throw new DomainError('INVALID_SECOND_FACTOR', 'wrong, expired or already used code');
        }
      } else if (needed !== 'none' && deps.secondFactors !== undefined) {
        const challenge = await deps.secondFactors.challenge(user, needed);
        deps.loginGuard.succeeded(username, 'second_factor_required');
        throw new DomainError(
          'SECOND_FACTOR_REQUIRED',
          needed === 'totp'
            ? 'this user has a second factor: send the code with the challenge'
            : 'this user must enrol a second factor before logging in',
          {
            challenge: challenge.token,
            expiresAt: challenge.expiresAt.toISOString(),
            enrol: needed === 'totp-enrol',
          },
        );
      }
      deps.loginGuard.succeeded(username);
      return issueSession(deps, user, request.log);
    },
  );
}

/** Opens a session for `user`: an access token and a refresh token. */
export async function issueSession(
  deps: Pick<ServerDeps, 'store' | 'tokens' | 'clock'>,
  user: User,
  log: { info(fields: object, message: string): void },
): Promise<LoginResponse> {
  const now = deps.clock.now();
  const refresh = newRefreshToken();
  const session = await deps.store.sessions.create({
    userId: user.id,
    refreshTokenHash: refresh.hash,
    expiresAt: new Date(now.getTime() + REFRESH_TTL_MS),
  });
  const access = await deps.tokens.issue(
    { sub: user.id, username: user.username, role: user.role, sid: session.id },
    now,
  );
  log.info({ user: user.username }, 'login');
  return {
    accessToken: access.token,
    refreshToken: refresh.token,
    expiresAt: access.expiresAt.toISOString(),
  };
}
