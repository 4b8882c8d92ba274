import { ErrorBody, Operation, VmSnapshotParams } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { snapshotsOf } from './snapshots-of.js';

export function registerVmSnapshotDelete(app: ServerApp, deps: ServerDeps): void {
  app.delete(
    '/api/v1/vms/:id/snapshots/:snapshot',
    {
      config: { permission: 'vm.action', scope: 'vm' },
      schema: {
        summary: 'Delete a snapshot of a VM',
        description:
          'Answers 202 with a `vm.snapshot.delete` operation; the VM and its current disk are ' +
          'untouched. 404 SNAPSHOT_NOT_FOUND.',
        params: VmSnapshotParams,
        response: { 202: Operation, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const vm = request.scopedVm?.id ?? request.params.id;
      return reply.status(202).send(await snapshotsOf(deps).delete(vm, request.params.snapshot));
    },
  );
}
