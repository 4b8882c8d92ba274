import { AgentDiskIncomingRequest, AgentNbdExport, IdOrNameParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Target of a cold migration: a fresh disk exported over NBD; answers the export. */
export function registerVmMigrationDiskIncoming(app: AgentFastify, deps: AgentAppDeps): void {
  app.post(
    '/v1/vms/:id/migration/disk',
    {
      schema: {
        params: IdOrNameParams,
        body: AgentDiskIncomingRequest,
        response: { 200: AgentNbdExport },
      },
    },
    (request) => {
      if (request.body.spec.id !== request.params.id) {
        throw new DomainError('VALIDATION_FAILED', 'the spec id differs from the id in the path', {
          path: request.params.id,
          body: request.body.spec.id,
        });
      }
      return deps.vms.migrationDiskIncoming(request.body);
    },
  );
}
