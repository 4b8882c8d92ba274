import { AgentDiskCopy, IdOrNameParams } from '@novacron/api';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Target of a cold migration, after the copy: close the disk and say what it holds. */
export function registerVmMigrationDiskDone(app: AgentFastify, deps: AgentAppDeps): void {
  app.post(
    '/v1/vms/:id/migration/disk/done',
    { schema: { params: IdOrNameParams, response: { 200: AgentDiskCopy } } },
    (request) => deps.vms.migrationDiskDone(request.params.id),
  );
}
