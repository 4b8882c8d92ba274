import { AgentDiskCopy, AgentMirrorRequest, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Source of a cold migration: copy the stopped VM's disk into the target's export; answers when whole. */
export function registerVmMigrationDiskOutgoing(app: AgentFastify, deps: AgentAppDeps): void {
  app.post(
    '/v1/vms/:id/migration/disk/outgoing',
    {
      schema: {
        params: IdOrNameParams,
        body: AgentMirrorRequest,
        response: { 200: AgentDiskCopy },
      },
    },
    (request) => deps.vms.migrationDiskOutgoing(request.params.id, request.body),
  );
}
