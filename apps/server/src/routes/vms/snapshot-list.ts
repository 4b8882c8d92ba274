import { ErrorBody, IdOrNameParams, VmSnapshotList } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { snapshotsOf } from './snapshots-of.js';

export function registerVmSnapshotList(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/vms/:id/snapshots',
    {
      config: { permission: 'vm.read', scope: 'vm' },
      schema: {
        summary: 'List the snapshots of a VM',
        description: 'Oldest first. `memory` says whether the snapshot holds the running guest.',
        params: IdOrNameParams,
        response: { 200: VmSnapshotList, '4xx': ErrorBody },
      },
    },
    (request) => snapshotsOf(deps).list(request.scopedVm?.id ?? request.params.id),
  );
}
