import { ErrorBody, SchedulerExplainRequest, SchedulerExplanation } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

/** A dry run of placement: what a create would do, filter by filter and host by host. */
export function registerSchedulerExplain(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/scheduler/explain',
    {
      config: { permission: 'vm.create', scope: 'body' },
      schema: {
        summary: 'Explain a placement',
        description:
          'Places nothing. Says which filter removed each host and why, how each remaining host ' +
          "scored under the policy's weighted scorers, and which host a create with the same size " +
          'and `placement` would get now (`chosen`, null when none fits). `novacron vm create ' +
          '--dry-run` shows it.',
        body: SchedulerExplainRequest,
        response: { 200: SchedulerExplanation, '4xx': ErrorBody },
      },
    },
    async (request) => deps.vms.explainPlacement(request.body),
  );
}
