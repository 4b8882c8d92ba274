import { ErrorBody, IdOrNameParams, Operation, VmClone } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { snapshotsOf } from './snapshots-of.js';

export function registerVmClone(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/vms/:id/clone',
    {
      config: { permission: 'vm.create', scope: 'vm' },
      schema: {
        summary: 'Clone a VM, one of its snapshots, or a template into a new VM',
        description:
          'Answers 202 with a `vm.clone` operation whose target is the new VM. The clone has its ' +
          'own id, MAC address and name, the source’s size, kernel arguments, pool and placement ' +
          'rules, and is placed on the source’s host (its disk is made there). From a template it ' +
          'is a linked clone (a qcow2 overlay on the template’s disk) unless `full`; from a VM or ' +
          'a snapshot its disk is a copy (a running VM is copied at one point in time with ' +
          'blockdev-backup). The project’s quota applies.',
        params: IdOrNameParams,
        body: VmClone,
        response: { 202: Operation, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const vm = request.scopedVm?.id ?? request.params.id;
      return reply.status(202).send(await snapshotsOf(deps).clone(vm, request.body));
    },
  );
}
