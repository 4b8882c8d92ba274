import { Operation, VmDeviceParams } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { hardwareService } from './hardware-shared.js';

/**
 * Unplugs a data disk (its file is deleted) or an extra NIC; a running guest must release it
 * first (device_del, then QEMU's DEVICE_DELETED). Two paths, one handler: disks and NICs.
 */
export function registerVmDeviceRemove(app: ServerApp, deps: ServerDeps): void {
  const hardware = hardwareService(deps);
  for (const kind of ['disks', 'nics'] as const) {
    app.delete(
      `/api/v1/vms/:id/${kind}/:device`,
      {
        config: { permission: 'vm.update', scope: 'vm' },
        schema: {
          summary:
            kind === 'disks'
              ? 'Remove a data disk from a VM (its file is deleted)'
              : 'Remove an extra NIC from a VM',
          description:
            'A running guest is asked to release the device (device_del) and the host waits for QEMU to report it gone (DEVICE_DELETED, up to 30 s).',
          params: VmDeviceParams,
          response: { 202: Operation },
        },
      },
      async (request, reply) => {
        const { id, device } = request.params;
        const expected = kind === 'disks' ? 'disk' : 'net';
        const operation = await hardware().removeDevice(id, device, undefined, expected);
        return reply.status(202).send(operation);
      },
    );
  }
}
