import { IdOrNameParams, Operation, VmResize } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { hardwareService } from './hardware-shared.js';

/** New vCPUs, memory, disk size or headroom; live on a running VM where QEMU can (ADR 23). */
export function registerVmResize(app: ServerApp, deps: ServerDeps): void {
  const hardware = hardwareService(deps);
  app.post(
    '/api/v1/vms/:id/resize',
    {
      config: { permission: 'vm.update', scope: 'vm' },
      schema: {
        summary: 'Resize a VM (live where QEMU can)',
        description:
          'A running VM gets vCPUs (CPU hot-add) and memory (a pc-dimm, in steps of 128 MiB) up to its headroom, and a bigger disk (block_resize); anything else waits for a stopped VM. A disk never shrinks (DISK_SHRINK_REFUSED); growth beyond the headroom of a running VM is HOTPLUG_NOT_SUPPORTED; beyond the project quota QUOTA_EXCEEDED; beyond its host NO_HOST_FITS. Nothing changes on a refusal.',
        params: IdOrNameParams,
        body: VmResize,
        response: { 202: Operation },
      },
    },
    async (request, reply) => {
      const operation = await hardware().resize(request.params.id, request.body);
      return reply.status(202).send(operation);
    },
  );
}
