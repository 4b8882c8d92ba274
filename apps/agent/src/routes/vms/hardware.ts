import { AgentHardwareReply, AgentVmSpec, IdOrNameParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Resize and hotplug (ADR 23): the VM's size and devices as the spec says, live if it runs. */
export function registerVmHardware(app: AgentFastify, deps: AgentAppDeps): void {
  app.put(
    '/v1/vms/:id/hardware',
    {
      schema: { params: IdOrNameParams, body: AgentVmSpec, response: { 200: AgentHardwareReply } },
    },
    (request) => {
      if (request.body.id !== request.params.id) {
        throw new DomainError('VALIDATION_FAILED', 'the spec id differs from the id in the path', {
          path: request.params.id,
          body: request.body.id,
        });
      }
      return deps.vms.applyHardware(request.body);
    },
  );
}
