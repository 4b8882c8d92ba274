import { ErrorBody, Host, IdOrNameParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';

/** Lets the scheduler place VMs on the host again: clears cordon and maintenance. */
export function registerHostUncordon(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/hosts/:id/uncordon',
    {
      config: { permission: 'host.manage' },
      schema: {
        summary: 'Uncordon a host',
        description:
          'Clears `cordoned` and `maintenance` (a drained host): new VMs may land again.',
        params: IdOrNameParams,
        response: { 200: Host, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const host = await deps.store.hosts.get(request.params.id);
      const patched =
        host && (await deps.store.hosts.patch(host.id, { cordoned: false, maintenance: false }));
      if (patched === undefined) {
        throw new DomainError('HOST_NOT_FOUND', `host '${request.params.id}' not found`, {
          host: request.params.id,
        });
      }
      return patched;
    },
  );
}
