import { ErrorBody, Operation, VmCreate } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerVmCreate(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/vms',
    {
      config: { permission: 'vm.create', scope: 'body' },
      schema: { body: VmCreate, response: { 202: Operation, '4xx': ErrorBody } },
    },
    async (request, reply) => {
      const operation = await deps.vms.create(request.body);
      return reply.status(202).send(operation);
    },
  );
}
