import { ErrorBody, IdOrNameParams, MigrationRequest, Operation } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { migrationsOf } from './migrate-plan.js';

/** Live migration of a running VM to another host, as an operation. */
export function registerVmMigrate(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/vms/:id/migrate',
    {
      config: { permission: 'vm.migrate', scope: 'vm' },
      schema: {
        summary: 'Live-migrate a VM to another host',
        description:
          'Answers 202 with a `vm.migrate` operation. Without `to` the scheduler picks the target. ' +
          '`strategy: auto` (the default) takes the strategy the planner predicts to finish within ' +
          'the limits. Progress goes out as `migration.progress` events; the finished operation’s ' +
          '`result` holds the measured times and the prediction. Cancelling rolls back until the ' +
          'switch to post-copy, after which a cancel is refused (409 OPERATION_NOT_CANCELLABLE).',
        params: IdOrNameParams,
        body: MigrationRequest,
        response: { 202: Operation, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const operation = await migrationsOf(deps).migrate(request.params.id, request.body);
      return reply.status(202).send(operation);
    },
  );
}
