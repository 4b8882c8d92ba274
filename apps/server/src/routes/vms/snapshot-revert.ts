import { ErrorBody, Operation, VmSnapshotParams } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { snapshotsOf } from './snapshots-of.js';

export function registerVmSnapshotRevert(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/vms/:id/snapshots/:snapshot/revert',
    {
      config: { permission: 'vm.action', scope: 'vm' },
      schema: {
        summary: 'Revert a VM to one of its snapshots',
        description:
          'Answers 202 with a `vm.snapshot.revert` operation. With memory the guest continues from ' +
          'the snapshot (a stopped VM starts there); disk only, a running guest is powered off and ' +
          'started again from the reverted disk, a stopped VM stays stopped. What was written ' +
          'after the snapshot is lost. 404 SNAPSHOT_NOT_FOUND for a name this VM has no snapshot of.',
        params: VmSnapshotParams,
        response: { 202: Operation, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const vm = request.scopedVm?.id ?? request.params.id;
      return reply.status(202).send(await snapshotsOf(deps).revert(vm, request.params.snapshot));
    },
  );
}
