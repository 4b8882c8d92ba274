import { AgentVmSpec, AgentVmStatus, IdOrNameParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { AgentAppDeps, AgentFastify } from '../../app.js';

/** Idempotent ensure: record the spec, create the disk, start QEMU if it should run. */
export function registerVmPut(app: AgentFastify, deps: AgentAppDeps): void {
  app.put(
    '/v1/vms/:id',
    { schema: { params: IdOrNameParams, body: AgentVmSpec, response: { 200: AgentVmStatus } } },
    (request) => {
      if (request.body.id !== request.params.id) {
        throw new DomainError('VALIDATION_FAILED', 'the spec id differs from the id in the path', {
          path: request.params.id,
          body: request.body.id,
        });
      }
      return deps.vms.ensure(request.body);
    },
  );
}
