import { IdOrNameParams, Operation, VmNicAdd } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { hardwareService } from './hardware-shared.js';

/** One more NIC on the host's VM network, hot-plugged when the VM runs (ADR 23). */
export function registerVmNicAdd(app: ServerApp, deps: ServerDeps): void {
  const hardware = hardwareService(deps);
  app.post(
    '/api/v1/vms/:id/nics',
    {
      config: { permission: 'vm.update', scope: 'vm' },
      schema: {
        summary: 'Add a NIC to a VM (hot-plugged when running)',
        description:
          "One more virtio-net NIC on a tap device on the host's VM network, on a free hotplug slot, with a stable MAC address; kept across restarts.",
        params: IdOrNameParams,
        body: VmNicAdd,
        response: { 202: Operation },
      },
    },
    async (request, reply) => {
      const operation = await hardware().addNic(request.params.id, request.body);
      return reply.status(202).send(operation);
    },
  );
}
