import { OperationListQuery, OperationPage } from '@novacron/api';
import { visibleProjects } from '@novacron/auth';
import { principalOf } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerOperationList(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/operations',
    {
      config: { permission: 'operation.read' },
      schema: { querystring: OperationListQuery, response: { 200: OperationPage } },
    },
    async (request) => {
      const { limit, cursor, status, kind, target } = request.query;
      const projects = visibleProjects(principalOf(request), 'operation.read');
      return deps.store.operations.list({
        ...(projects === undefined ? {} : { projects }),
        limit: limit ?? 100,
        ...(cursor === undefined ? {} : { cursor }),
        ...(status === undefined ? {} : { status }),
        ...(kind === undefined ? {} : { kind }),
        ...(target === undefined ? {} : { target }),
      });
    },
  );
}
