import { UserParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { principalOf } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { requireUser } from './view.js';

export function registerUserDelete(app: ServerApp, deps: ServerDeps): void {
  app.delete(
    '/api/v1/users/:username',
    {
      config: { permission: 'user.manage' },
      schema: {
        summary: 'Delete a user, its sessions and API tokens (cluster admin)',
        params: UserParams,
      },
    },
    async (request, reply) => {
      const user = await requireUser(deps, request.params.username);
      if (user.id === principalOf(request).userId) {
        throw new DomainError('VALIDATION_FAILED', 'you cannot delete yourself', {
          field: 'username',
        });
      }
      await deps.store.users.delete(user.id);
      return reply.status(204).send();
    },
  );
}
