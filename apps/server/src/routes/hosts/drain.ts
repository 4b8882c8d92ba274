import { ErrorBody, IdOrNameParams, Operation } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';

/** Moves every VM off a host and leaves it in maintenance, as an operation. */
export function registerHostDrain(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/hosts/:id/drain',
    {
      config: { permission: 'host.manage' },
      schema: {
        summary: 'Drain a host',
        description:
          'Answers 202 with a `host.drain` operation. The host goes into maintenance at once (no ' +
          'new VMs), then every VM on it is live-migrated to a host the scheduler chooses by the ' +
          "VM's own placement rules, a few at a time. The operation's `metadata.vms` gives each " +
          "VM's status, target and migration operation. A VM that cannot move stays, with the " +
          'reason; the drain then ends `failed` (partial), forcing nothing. `uncordon` ends maintenance.',
        params: IdOrNameParams,
        response: { 202: Operation, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      if (deps.drains === undefined) {
        throw new DomainError('MIGRATION_NOT_POSSIBLE', 'this server does not migrate VMs');
      }
      const operation = await deps.drains.drain(request.params.id);
      return reply.status(202).send(operation);
    },
  );
}
