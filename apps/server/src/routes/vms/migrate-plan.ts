import { DomainError } from '@novacron/domain';
import { ErrorBody, IdOrNameParams, MigrationPlan, MigrationPlanRequest } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import type { MigrationService } from '../../services/migrations.js';

/** What a migration would do: the measured dirty rate and each strategy's prediction. */
export function registerVmMigratePlan(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/vms/:id/migrate/plan',
    {
      config: { permission: 'vm.migrate', scope: 'vm' },
      schema: {
        summary: 'Plan a live migration without moving anything',
        description:
          'Measures the guest’s dirty rate on its host (about one second) and predicts total time ' +
          'and downtime of pre-copy, post-copy and auto-converge under the given or the cluster’s ' +
          'limits; `chosen` is what `strategy: auto` would run.',
        params: IdOrNameParams,
        body: MigrationPlanRequest,
        response: { 200: MigrationPlan, '4xx': ErrorBody },
      },
    },
    async (request) => migrationsOf(deps).plan(request.params.id, request.body),
  );
}

export function migrationsOf(deps: ServerDeps): MigrationService {
  if (deps.migrations === undefined) {
    throw new DomainError('MIGRATION_NOT_POSSIBLE', 'this server was started without migrations');
  }
  return deps.migrations;
}
