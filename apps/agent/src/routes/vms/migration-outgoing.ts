import { AgentMigrationStatus, AgentOutgoingRequest, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Source: start sending the guest to the target's URI; answers once QEMU accepted. */
export function registerVmMigrationOutgoing(app: AgentFastify, deps: AgentAppDeps): void {
  app.post(
    '/v1/vms/:id/migration/outgoing',
    {
      schema: {
        params: IdOrNameParams,
        body: AgentOutgoingRequest,
        response: { 200: AgentMigrationStatus },
      },
    },
    (request) => deps.vms.migrationOutgoing(request.params.id, request.body),
  );
}
