import { IdOrNameParams, Operation, VmAction } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerVmAction(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/vms/:id/actions',
    {
      config: { permission: 'vm.action', scope: 'vm' },
      schema: { params: IdOrNameParams, body: VmAction, response: { 202: Operation } },
    },
    async (request, reply) => {
      const operation = await deps.vms.act(request.params.id, request.body);
      return reply.status(202).send(operation);
    },
  );
}
