import { AgentIncomingReply, AgentIncomingRequest, IdOrNameParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Target: start a QEMU waiting for the migration stream; answers where it listens. */
export function registerVmMigrationIncoming(app: AgentFastify, deps: AgentAppDeps): void {
  app.post(
    '/v1/vms/:id/migration/incoming',
    {
      schema: {
        params: IdOrNameParams,
        body: AgentIncomingRequest,
        response: { 200: AgentIncomingReply },
      },
    },
    (request) => {
      if (request.body.spec.id !== request.params.id) {
        throw new DomainError('VALIDATION_FAILED', 'the spec id differs from the id in the path', {
          path: request.params.id,
          body: request.body.spec.id,
        });
      }
      return deps.vms.migrationIncoming(request.body);
    },
  );
}
