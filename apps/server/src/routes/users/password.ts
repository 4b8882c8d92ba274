import { UserParams, UserPasswordChange } from '@novacron/api';
import { hashPassword } from '@novacron/auth';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { requireUser } from './view.js';

export function registerUserPassword(app: ServerApp, deps: ServerDeps): void {
  app.put(
    '/api/v1/users/:username/password',
    {
      config: { permission: 'user.manage', action: 'user.password' },
      schema: {
        summary: "Set a user's password (cluster admin); the user's sessions end",
        params: UserParams,
        body: UserPasswordChange,
      },
    },
    async (request, reply) => {
      const user = await requireUser(deps, request.params.username);
      await deps.store.users.setPasswordHash(user.id, await hashPassword(request.body.password));
      // Whoever knew the old password may hold a session: they all end.
      await deps.store.sessions.revokeAllOf(user.id);
      return reply.status(204).send();
    },
  );
}
