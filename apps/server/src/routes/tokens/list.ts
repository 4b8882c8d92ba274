import { ApiTokenPage } from '@novacron/api';
import { principalOf } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { tokenView } from './view.js';

export function registerTokenList(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/tokens',
    {
      config: { permission: 'self' },
      schema: {
        summary: 'List your API tokens (every token, for the cluster admin)',
        response: { 200: ApiTokenPage },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const tokens = await deps.store.apiTokens.list(
        principal.global ? undefined : principal.userId,
      );
      return { items: tokens.map(tokenView), nextCursor: null };
    },
  );
}
