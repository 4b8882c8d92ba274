import { ErrorBody, HostMetricsSeries, IdOrNameParams, MetricsQuery } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerHostMetrics(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/hosts/:id/metrics',
    {
      config: { permission: 'host.read' },
      schema: {
        summary: "A host's recent metrics samples (the last hour at most), oldest first",
        params: IdOrNameParams,
        querystring: MetricsQuery,
        response: { 200: HostMetricsSeries, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const host = await deps.store.hosts.get(request.params.id);
      if (host === undefined) {
        throw new DomainError('HOST_NOT_FOUND', `host '${request.params.id}' not found`);
      }
      return {
        hostId: host.id,
        samples: deps.metrics?.hostSamples(host.id, request.query.since) ?? [],
      };
    },
  );
}
