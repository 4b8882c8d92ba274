import { ErrorBody, IdOrNameParams, Operation, VmSnapshotCreate } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { snapshotsOf } from './snapshots-of.js';

export function registerVmSnapshotCreate(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/vms/:id/snapshots',
    {
      config: { permission: 'vm.action', scope: 'vm' },
      schema: {
        summary: 'Take a snapshot of a VM',
        description:
          'Answers 202 with a `vm.snapshot` operation. A qcow2 internal snapshot of the VM’s disk; ' +
          'with `memory: true` (running or paused VM) also its RAM and device state, so that a ' +
          'revert resumes the guest where it was. A running VM keeps running. 409 ' +
          'SNAPSHOT_NAME_TAKEN, VM_IS_TEMPLATE, VM_INVALID_STATE.',
        params: IdOrNameParams,
        body: VmSnapshotCreate,
        response: { 202: Operation, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const vm = request.scopedVm?.id ?? request.params.id;
      return reply.status(202).send(await snapshotsOf(deps).create(vm, request.body));
    },
  );
}
