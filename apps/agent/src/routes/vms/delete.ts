import { AgentVmDeleteQuery, IdOrNameParams, type AgentVmDeleted } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

export function registerVmDelete(app: AgentFastify, deps: AgentAppDeps): void {
  app.delete(
    '/v1/vms/:id',
    { schema: { params: IdOrNameParams, querystring: AgentVmDeleteQuery } },
    async (request, reply) => {
      const keepDisks = request.query.keepDisks === true;
      const keptDisks = await deps.vms.delete(request.params.id, { keepDisks });
      // Without keepDisks the answer stays 204, as before.
      if (!keepDisks) return reply.code(204).send();
      const body: AgentVmDeleted = { keptDisks };
      return reply.code(200).send(body);
    },
  );
}
