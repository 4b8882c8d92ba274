import { IdOrNameParams, Operation, VmDiskAdd } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { hardwareService } from './hardware-shared.js';

/** A new empty data disk in the VM's pool, hot-plugged when it runs (ADR 23). */
export function registerVmDiskAdd(app: ServerApp, deps: ServerDeps): void {
  const hardware = hardwareService(deps);
  app.post(
    '/api/v1/vms/:id/disks',
    {
      config: { permission: 'vm.update', scope: 'vm' },
      schema: {
        summary: 'Add a data disk to a VM (hot-plugged when running)',
        description:
          "A new empty qcow2 disk in the VM's pool on a free hotplug slot (four per VM); a running guest sees a new virtio block device. Counts towards the project's disk quota; kept across restarts.",
        params: IdOrNameParams,
        body: VmDiskAdd,
        response: { 202: Operation },
      },
    },
    async (request, reply) => {
      const operation = await hardware().addDisk(request.params.id, request.body);
      return reply.status(202).send(operation);
    },
  );
}
