import { principalOf } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';

/** Ends the caller's login session: its refresh token and access tokens stop working. */
export function registerLogout(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/auth/logout',
    {
      config: { permission: 'self', action: 'auth.logout' },
      schema: {
        summary: 'Log out: end this login session',
        description:
          'The session of the access token sent is revoked: its refresh token and every access token issued for it stop working at once. An API token is revoked with DELETE /api/v1/tokens/{id} instead.',
      },
    },
    async (request, reply) => {
      const { sessionId } = principalOf(request);
      if (sessionId !== undefined) await deps.store.sessions.revoke(sessionId);
      return reply.status(204).send();
    },
  );
}
