import { AgentMigrationStatus, AgentMigrationTuning, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Source: bandwidth, downtime limit or throttle of the running stream. */
export function registerVmMigrationTune(app: AgentFastify, deps: AgentAppDeps): void {
  app.patch(
    '/v1/vms/:id/migration',
    {
      schema: {
        params: IdOrNameParams,
        body: AgentMigrationTuning,
        response: { 200: AgentMigrationStatus },
      },
    },
    (request) => deps.vms.migrationTune(request.params.id, request.body),
  );
}
