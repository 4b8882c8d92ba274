import { AgentMigrationStatus, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/**
 * Abort, on either side: the source cancels (the guest keeps running there; 409 after the switch
 * to post-copy), the target quits its incoming QEMU and forgets the VM. Idempotent.
 */
export function registerVmMigrationAbort(app: AgentFastify, deps: AgentAppDeps): void {
  app.delete(
    '/v1/vms/:id/migration',
    { schema: { params: IdOrNameParams, response: { 200: AgentMigrationStatus } } },
    (request) => deps.vms.migrationAbort(request.params.id),
  );
}
