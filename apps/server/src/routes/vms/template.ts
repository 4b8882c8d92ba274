import { ErrorBody, IdOrNameParams, Vm } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { snapshotsOf } from './snapshots-of.js';

export function registerVmTemplate(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/vms/:id/template',
    {
      config: { permission: 'vm.update', scope: 'vm' },
      schema: {
        summary: 'Make a stopped VM a template',
        description:
          'The VM becomes immutable (Proxmox style): it can no longer be started, resized or ' +
          'snapshotted (409 VM_IS_TEMPLATE), only cloned (`POST /api/v1/vms/{id}/clone`, linked ' +
          'clones by default), and it cannot be deleted while linked clones read its disk (409 ' +
          'TEMPLATE_IN_USE). A VM with snapshots is refused (409 VM_HAS_SNAPSHOTS). Idempotent.',
        params: IdOrNameParams,
        response: { 200: Vm, '4xx': ErrorBody },
      },
    },
    (request) => snapshotsOf(deps).markTemplate(request.scopedVm?.id ?? request.params.id),
  );
}
