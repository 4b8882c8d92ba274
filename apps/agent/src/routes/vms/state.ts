import { AgentVmStateChange, AgentVmStatus, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** start, stop (ACPI then quit after timeoutSeconds; force quits at once), reboot, pause, resume. */
export function registerVmState(app: AgentFastify, deps: AgentAppDeps): void {
  app.post(
    '/v1/vms/:id/state',
    {
      schema: {
        params: IdOrNameParams,
        body: AgentVmStateChange,
        response: { 200: AgentVmStatus },
      },
    },
    (request) => deps.vms.changeState(request.params.id, request.body),
  );
}
