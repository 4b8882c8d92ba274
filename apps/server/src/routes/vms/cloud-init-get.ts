import { Type } from 'typebox';
import { CloudInitSummary, IdOrNameParams } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

/**
 * `GET /api/v1/vms/{id}/cloud-init`: what the VM's guest is given through cloud-init, without
 * the user-data itself (it may hold secrets); null for a VM created without cloud-init.
 */
export function registerVmCloudInitGet(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/vms/:id/cloud-init',
    {
      config: { permission: 'vm.read', scope: 'vm' },
      schema: {
        summary: "Get what a VM's guest is given by cloud-init",
        description:
          'Instance id, host name, number of SSH keys, user-data size and whether a network-config is set; never the user-data itself. Null for a VM created without cloud-init.',
        params: IdOrNameParams,
        response: { 200: Type.Union([CloudInitSummary, Type.Null()]) },
      },
    },
    async (request) => {
      const vm = request.scopedVm ?? (await deps.vms.get(request.params.id));
      const seed = await deps.store.cloudInit.get(vm.id);
      if (seed === undefined) return null;
      return {
        instanceId: seed.instanceId,
        hostname: seed.hostname,
        sshKeys: seed.sshKeys.length,
        userDataBytes: Buffer.byteLength(seed.userData ?? '', 'utf8'),
        networkConfig: seed.networkConfig !== undefined,
      };
    },
  );
}
