import { AgentMigrationStatus, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Source, shared-nothing, paused before the switch-over: end the mirror in sync and continue. */
export function registerVmMigrationSwitchover(app: AgentFastify, deps: AgentAppDeps): void {
  app.post(
    '/v1/vms/:id/migration/switchover',
    { schema: { params: IdOrNameParams, response: { 200: AgentMigrationStatus } } },
    (request) => deps.vms.migrationSwitchover(request.params.id),
  );
}
