import { UserPage } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { userView } from './view.js';

export function registerUserList(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/users',
    {
      config: { permission: 'user.read' },
      schema: {
        summary: 'List users and their roles (cluster admin)',
        response: { 200: UserPage },
      },
    },
    async () => {
      const users = await deps.store.users.list();
      return {
        items: await Promise.all(users.map((user) => userView(deps, user))),
        nextCursor: null,
      };
    },
  );
}
