import { ApiToken, IdParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { principalOf } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { tokenView } from './view.js';

export function registerTokenRevoke(app: ServerApp, deps: ServerDeps): void {
  app.delete(
    '/api/v1/tokens/:id',
    {
      config: { permission: 'self', action: 'token.revoke' },
      schema: {
        summary: 'Revoke an API token: it stops working at once',
        params: IdParams,
        response: { 200: ApiToken },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { id } = request.params;
      const token = await deps.store.apiTokens.get(id);
      // Someone else's token looks exactly like a missing one.
      if (token === undefined || (!principal.global && token.userId !== principal.userId)) {
        throw new DomainError('TOKEN_NOT_FOUND', `API token '${id}' not found`);
      }
      await deps.store.apiTokens.revoke(token.id);
      return tokenView((await deps.store.apiTokens.get(token.id)) ?? token);
    },
  );
}
