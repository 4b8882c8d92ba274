import { AgentMigrationStatus, AgentMirrorRequest, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Source, shared-nothing: mirror the VM's local disk into the target's NBD export. */
export function registerVmMigrationMirror(app: AgentFastify, deps: AgentAppDeps): void {
  app.post(
    '/v1/vms/:id/migration/mirror',
    {
      schema: {
        params: IdOrNameParams,
        body: AgentMirrorRequest,
        response: { 200: AgentMigrationStatus },
      },
    },
    (request) => deps.vms.migrationMirror(request.params.id, request.body),
  );
}
