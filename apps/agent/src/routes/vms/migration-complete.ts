import { IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Source, after success: retire the QEMU left in postmigrate and forget the VM here. */
export function registerVmMigrationComplete(app: AgentFastify, deps: AgentAppDeps): void {
  app.post(
    '/v1/vms/:id/migration/complete',
    { schema: { params: IdOrNameParams } },
    async (request, reply) => {
      await deps.vms.migrationComplete(request.params.id);
      return reply.code(204).send();
    },
  );
}
