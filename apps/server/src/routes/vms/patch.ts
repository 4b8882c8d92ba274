import { IdOrNameParams, Vm, VmPatch } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerVmPatch(app: ServerApp, deps: ServerDeps): void {
  app.patch(
    '/api/v1/vms/:id',
    {
      config: { permission: 'vm.update', scope: 'vm' },
      schema: { params: IdOrNameParams, body: VmPatch, response: { 200: Vm } },
    },
    async (request) => deps.vms.patch(request.params.id, request.body),
  );
}
