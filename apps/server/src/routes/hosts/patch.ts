import { Host, HostPatch, IdOrNameParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerHostPatch(app: ServerApp, deps: ServerDeps): void {
  app.patch(
    '/api/v1/hosts/:id',
    {
      config: { permission: 'host.manage' },
      schema: { params: IdOrNameParams, body: HostPatch, response: { 200: Host } },
    },
    async (request) => {
      const host = await deps.store.hosts.get(request.params.id);
      const patched = host && (await deps.store.hosts.patch(host.id, request.body));
      if (patched === undefined) {
        throw new DomainError('HOST_NOT_FOUND', `host '${request.params.id}' not found`, {
          host: request.params.id,
        });
      }
      return patched;
    },
  );
}
