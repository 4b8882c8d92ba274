import { ErrorBody, Host, IdOrNameParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';

/** Keeps the host's VMs but places no new ones on it. */
export function registerHostCordon(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/hosts/:id/cordon',
    {
      config: { permission: 'host.manage' },
      schema: {
        summary: 'Cordon a host',
        description:
          'The host keeps its VMs; the scheduler places no new VM on it until uncordoned.',
        params: IdOrNameParams,
        response: { 200: Host, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const host = await deps.store.hosts.get(request.params.id);
      const patched = host && (await deps.store.hosts.patch(host.id, { cordoned: true }));
      if (patched === undefined) {
        throw new DomainError('HOST_NOT_FOUND', `host '${request.params.id}' not found`, {
          host: request.params.id,
        });
      }
      return patched;
    },
  );
}
