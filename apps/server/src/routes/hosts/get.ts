import { Host, IdOrNameParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerHostGet(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/hosts/:id',
    {
      config: { permission: 'host.read' },
      schema: { params: IdOrNameParams, response: { 200: Host } },
    },
    async (request) => {
      const host = await deps.store.hosts.get(request.params.id);
      if (host === undefined) {
        throw new DomainError('HOST_NOT_FOUND', `host '${request.params.id}' not found`);
      }
      return host;
    },
  );
}
