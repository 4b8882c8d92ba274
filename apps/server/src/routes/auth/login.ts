import { LoginRequest, LoginResponse } from '@novacron/api';
import { hashPassword, newPassword, newRefreshToken, verifyPassword } from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';

const REFRESH_TTL_MS = 30 * 24 * 3600 * 1000;

export function registerLogin(app: ServerApp, deps: ServerDeps): void {
  // Verified against when the user does not exist, so both answers take the same time.
  const dummyHash = hashPassword(newPassword());
  app.post(
    '/api/v1/auth/login',
    {
      config: { permission: 'public', action: 'auth.login' },
      schema: { body: LoginRequest, response: { 200: LoginResponse } },
    },
    async (request) => {
      const { username, password } = request.body;
      const user = await deps.store.users.getByUsername(username);
      const valid = await verifyPassword(user?.passwordHash ?? (await dummyHash), password);
      if (user === undefined || !valid) {
        throw new DomainError('INVALID_CREDENTIALS', 'wrong username or password');
      }
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
      request.log.info({ user: user.username }, 'login');
      return {
        accessToken: access.token,
        refreshToken: refresh.token,
        expiresAt: access.expiresAt.toISOString(),
      };
    },
  );
}
