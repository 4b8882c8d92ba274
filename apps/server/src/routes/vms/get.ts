import { IdOrNameParams, Vm } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { sendJson, vmJson } from './vm-json.js';

export function registerVmGet(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/vms/:id',
    {
      config: { permission: 'vm.read', scope: 'vm' },
      schema: { params: IdOrNameParams, response: { 200: Vm } },
    },
    // The VM the authorizer read (docs/adr/0021-request-caches.md): one read, not two, and its
    // JSON written once while it stays cached.
    async (request, reply) => {
      const { scopedVm, params } = request;
      if (scopedVm === undefined || deps.vmCache === undefined) return deps.vms.get(params.id);
      return sendJson(reply, vmJson(reply, deps.vmCache, scopedVm));
    },
  );
}
