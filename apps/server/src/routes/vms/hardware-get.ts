import { IdOrNameParams, VmHardwareView } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { hardwareService } from './hardware-shared.js';

/** A VM's size, headroom, data disks and extra NICs (ADR 23). */
export function registerVmHardwareGet(app: ServerApp, deps: ServerDeps): void {
  const hardware = hardwareService(deps);
  app.get(
    '/api/v1/vms/:id/hardware',
    {
      config: { permission: 'vm.read', scope: 'vm' },
      schema: {
        summary: "Get a VM's size, headroom, data disks and extra NICs",
        description:
          'The vCPUs, memory and boot disk, the headroom a running VM may grow into (maxCpus, maxMemoryMiB), the CPUs and DIMMs added while it ran, and its data disks and extra NICs with their hotplug slots.',
        params: IdOrNameParams,
        response: { 200: VmHardwareView },
      },
    },
    async (request) => hardware().view(request.params.id),
  );
}
