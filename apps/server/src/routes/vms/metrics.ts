import { ErrorBody, IdOrNameParams, MetricsQuery, VmMetricsSeries } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerVmMetrics(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/vms/:id/metrics',
    {
      config: { permission: 'vm.read', scope: 'vm' },
      schema: {
        summary: "A VM's recent metrics samples (the last hour at most), oldest first",
        params: IdOrNameParams,
        querystring: MetricsQuery,
        response: { 200: VmMetricsSeries, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const vm = await deps.vms.get(request.params.id);
      return { vmId: vm.id, samples: deps.metrics?.vmSamples(vm.id, request.query.since) ?? [] };
    },
  );
}
