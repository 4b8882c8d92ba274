import { IdOrNameParams, Operation, VmDeleteQuery } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerVmDelete(app: ServerApp, deps: ServerDeps): void {
  app.delete(
    '/api/v1/vms/:id',
    {
      config: { permission: 'vm.delete', scope: 'vm' },
      schema: { params: IdOrNameParams, querystring: VmDeleteQuery, response: { 202: Operation } },
    },
    async (request, reply) => {
      const { force = false, keepDisks = false } = request.query;
      const operation = await deps.vms.delete(request.params.id, { force, keepDisks });
      return reply.status(202).send(operation);
    },
  );
}
