import { IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

export function registerVmDelete(app: AgentFastify, deps: AgentAppDeps): void {
  app.delete('/v1/vms/:id', { schema: { params: IdOrNameParams } }, async (request, reply) => {
    await deps.vms.delete(request.params.id);
    return reply.code(204).send();
  });
}
