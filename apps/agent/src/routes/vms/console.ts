import { ConsoleOutputQuery, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

const MAX_TAIL_BYTES = 1024 * 1024;

/** The end of the serial console log, as plain text. */
export function registerVmConsole(app: AgentFastify, deps: AgentAppDeps): void {
  app.get(
    '/v1/vms/:id/console',
    { schema: { params: IdOrNameParams, querystring: ConsoleOutputQuery } },
    async (request, reply) => {
      const bytes = Math.min(request.query.tailBytes ?? MAX_TAIL_BYTES, MAX_TAIL_BYTES);
      const tail = await deps.vms.consoleTail(request.params.id, bytes);
      return reply.type('text/plain; charset=utf-8').send(tail);
    },
  );
}
