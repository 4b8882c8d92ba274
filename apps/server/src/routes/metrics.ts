import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../deps.js';

/**
 * GET /metrics: the server's Prometheus exposition. Needs a bearer token like the API (an API
 * token with the viewer role is the intended scrape credential): the counts it shows are
 * cluster-wide.
 */
export function registerServerMetrics(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/metrics',
    {
      config: { permission: 'host.read' },
      schema: {
        summary: 'Prometheus metrics of the control plane',
        description:
          'Prometheus text format: API requests by method, route pattern and status with their latency (novacron_api_request_duration_seconds), logins by result, finished operations by kind and result, VMs and hosts by state. Needs `Authorization: Bearer` (Prometheus: `authorization: { credentials_file: ... }` with an API token).',
      },
    },
    async (_request, reply) => {
      if (deps.serverMetrics === undefined) {
        throw new DomainError('ROUTE_NOT_FOUND', 'this server keeps no metrics');
      }
      const { contentType, body } = await deps.serverMetrics.text();
      return reply.type(contentType).send(body);
    },
  );
}
