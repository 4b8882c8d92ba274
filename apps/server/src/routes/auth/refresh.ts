import { LoginResponse, RefreshRequest } from '@novacron/api';
import { hashRefreshToken, newRefreshToken } from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';

/**
 * Trades a refresh token for a new access token and a new refresh token (rotation). The old
 * refresh token stops working; presenting it again means it leaked, and ends the session.
 */
export function registerRefresh(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/auth/refresh',
    {
      config: { permission: 'public', action: 'auth.refresh' },
      schema: {
        summary: 'Trade a refresh token for new tokens',
        description:
          'Answers a new access token and a new refresh token; the one sent stops working. Sending a refresh token that was already traded ends its session (every token of that login stops working).',
        body: RefreshRequest,
        response: { 200: LoginResponse },
      },
    },
    async (request) => {
      const now = deps.clock.now();
      const hash = hashRefreshToken(request.body.refreshToken);
      const session = await deps.store.sessions.getByRefreshTokenHash(hash);
      if (session === undefined) {
        const reused = await deps.store.sessions.getByRotatedHash(hash);
        if (reused !== undefined) {
          await deps.store.sessions.revoke(reused.id);
          request.log.warn(
            { session: reused.id },
            'a rotated refresh token came back: session revoked',
          );
        }
        throw new DomainError('UNAUTHENTICATED', 'refresh token invalid');
      }
      if (session.revokedAt !== null || Date.parse(session.expiresAt) <= now.getTime()) {
        throw new DomainError('UNAUTHENTICATED', 'session ended: log in again');
      }
      const user = await deps.store.users.get(session.userId);
      if (user === undefined)
        throw new DomainError('UNAUTHENTICATED', 'session ended: log in again');
      const refresh = newRefreshToken();
      if (!(await deps.store.sessions.rotate(session.id, hash, refresh.hash))) {
        // Another refresh with the same token won the race: this one is the replay.
        await deps.store.sessions.revoke(session.id);
        throw new DomainError('UNAUTHENTICATED', 'refresh token invalid');
      }
      request.principal = {
        kind: 'user',
        userId: user.id,
        username: user.username,
        sessionId: session.id,
        global: user.role === 'admin',
        bindings: [],
      };
      const access = await deps.tokens.issue(
        { sub: user.id, username: user.username, role: user.role, sid: session.id },
        now,
      );
      return {
        accessToken: access.token,
        refreshToken: refresh.token,
        expiresAt: access.expiresAt.toISOString(),
      };
    },
  );
}
