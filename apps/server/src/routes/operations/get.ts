import { Operation } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { Type } from 'typebox';
import type { ServerApp, ServerDeps } from '../../deps.js';

export const OperationParams = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
});

export function registerOperationGet(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/operations/:id',
    {
      config: { permission: 'operation.read', scope: 'operation' },
      schema: { params: OperationParams, response: { 200: Operation } },
    },
    async (request) => {
      const operation = await deps.store.operations.get(request.params.id);
      if (operation === undefined) {
        throw new DomainError('OPERATION_NOT_FOUND', `operation '${request.params.id}' not found`);
      }
      return operation;
    },
  );
}
