import { Operation } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { OperationParams } from './get.js';

export function registerOperationCancel(app: ServerApp, deps: ServerDeps): void {
  app.delete(
    '/api/v1/operations/:id',
    {
      config: { permission: 'operation.cancel', scope: 'operation' },
      schema: { params: OperationParams, response: { 202: Operation } },
    },
    async (request, reply) => {
      const operation = await deps.operations.cancel(request.params.id);
      return reply.status(202).send(operation);
    },
  );
}
