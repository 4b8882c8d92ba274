import { ConsoleOutputQuery, IdOrNameParams } from '@novacron/api';
import { Type } from 'typebox';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerVmConsoleOutput(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/vms/:id/console/output',
    {
      config: { permission: 'vm.console', scope: 'vm' },
      schema: {
        params: IdOrNameParams,
        querystring: ConsoleOutputQuery,
        response: { 200: Type.String() },
      },
    },
    async (request, reply) => {
      const output = await deps.vms.consoleOutput(request.params.id, request.query.tailBytes);
      return reply.type('text/plain; charset=utf-8').send(output);
    },
  );
}
