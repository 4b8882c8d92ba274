import { AgentMigrationStatus, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Source: switch the running pre-copy to post-copy (409 without postcopy-ram). */
export function registerVmMigrationPostcopy(app: AgentFastify, deps: AgentAppDeps): void {
  app.post(
    '/v1/vms/:id/migration/postcopy',
    { schema: { params: IdOrNameParams, response: { 200: AgentMigrationStatus } } },
    (request) => deps.vms.migrationPostcopy(request.params.id),
  );
}
