import { ErrorBody, User, UserRoleParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { requireProjectUser, userView } from './view.js';

export function registerUserRoleRemove(app: ServerApp, deps: ServerDeps): void {
  app.delete(
    '/api/v1/users/:username/roles/:project',
    {
      config: { permission: 'user.manage', action: 'user.role.remove' },
      schema: {
        summary: "Take a user's role in a project away (cluster admin)",
        params: UserRoleParams,
        response: { 200: User, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const { username, project } = request.params;
      const user = await requireProjectUser(deps, username);
      // Through the app's store, whose writes drop the cached callers: the next request sees it.
      if (!(await deps.store.users.unbind(user.id, project))) {
        throw new DomainError(
          'ROLE_BINDING_NOT_FOUND',
          `user '${user.username}' has no role in project '${project}'`,
          { username: user.username, project },
        );
      }
      return userView(deps, user);
    },
  );
}
