import { OperationListQuery, OperationPage } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerOperationList(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/operations',
    { schema: { querystring: OperationListQuery, response: { 200: OperationPage } } },
    async (request) => {
      const { limit, cursor, status, kind, target } = request.query;
      return deps.store.operations.list({
        limit: limit ?? 100,
        ...(cursor === undefined ? {} : { cursor }),
        ...(status === undefined ? {} : { status }),
        ...(kind === undefined ? {} : { kind }),
        ...(target === undefined ? {} : { target }),
      });
    },
  );
}
