import { ErrorBody, User, UserRoleParams, UserRoleSet } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { requireProjectUser, userView } from './view.js';

export function registerUserRoleSet(app: ServerApp, deps: ServerDeps): void {
  app.put(
    '/api/v1/users/:username/roles/:project',
    {
      config: { permission: 'user.manage', action: 'user.role.set' },
      schema: {
        summary: 'Give a user a role in a project, or change it (cluster admin)',
        params: UserRoleParams,
        body: UserRoleSet,
        response: { 200: User, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const user = await requireProjectUser(deps, request.params.username);
      // Through the app's store, whose writes drop the cached callers: the next request sees it.
      await deps.store.users.bind(user.id, request.params.project, request.body.role);
      return userView(deps, user);
    },
  );
}
