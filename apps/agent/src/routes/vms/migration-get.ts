import { AgentMigrationStatus, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** QEMU's query-migrate on this host (source or target). */
export function registerVmMigrationGet(app: AgentFastify, deps: AgentAppDeps): void {
  app.get(
    '/v1/vms/:id/migration',
    { schema: { params: IdOrNameParams, response: { 200: AgentMigrationStatus } } },
    (request) => deps.vms.migrationStatus(request.params.id),
  );
}
