import { Operation, OperationWaitQuery } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { OperationParams } from './get.js';

const DEFAULT_WAIT_SECONDS = 60;

export function registerOperationWait(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/operations/:id/wait',
    {
      config: { permission: 'operation.read', scope: 'operation' },
      schema: {
        params: OperationParams,
        querystring: OperationWaitQuery,
        response: { 200: Operation },
      },
    },
    async (request) => {
      const seconds = request.query.timeout ?? DEFAULT_WAIT_SECONDS;
      // The connection is silent while the operation runs: give it longer than the idle timeout.
      // (Injected requests in tests have a socket without timers.)
      request.raw.socket?.setTimeout?.((seconds + 10) * 1000);
      const operation = await deps.operations.wait(request.params.id, seconds * 1000);
      if (operation === undefined) {
        throw new DomainError('OPERATION_NOT_FOUND', `operation '${request.params.id}' not found`);
      }
      return operation;
    },
  );
}
