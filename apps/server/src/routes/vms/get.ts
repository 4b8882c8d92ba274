import { IdOrNameParams, Vm } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerVmGet(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/vms/:id',
    {
      config: { permission: 'vm.read', scope: 'vm' },
      schema: { params: IdOrNameParams, response: { 200: Vm } },
    },
    // The VM the authorizer read (docs/adr/0021-request-caches.md): one read, not two.
    async (request) => request.scopedVm ?? deps.vms.get(request.params.id),
  );
}
