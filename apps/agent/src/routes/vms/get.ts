import { AgentVmStatus, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

export function registerVmGet(app: AgentFastify, deps: AgentAppDeps): void {
  app.get(
    '/v1/vms/:id',
    { schema: { params: IdOrNameParams, response: { 200: AgentVmStatus } } },
    (request) => deps.vms.status(request.params.id),
  );
}
