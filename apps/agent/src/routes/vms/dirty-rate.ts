import { AgentDirtyRateReply, AgentDirtyRateRequest, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** How fast the running guest dirties memory, measured by QEMU over a window. */
export function registerVmDirtyRate(app: AgentFastify, deps: AgentAppDeps): void {
  app.post(
    '/v1/vms/:id/dirty-rate',
    {
      schema: {
        params: IdOrNameParams,
        body: AgentDirtyRateRequest,
        response: { 200: AgentDirtyRateReply },
      },
    },
    (request) => deps.vms.dirtyRate(request.params.id, request.body.seconds),
  );
}
