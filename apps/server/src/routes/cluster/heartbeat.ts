import { ClusterHeartbeat, ClusterHeartbeatReply, ErrorBody } from '@novacron/api';
import { callingHost, type ClusterApp, type ClusterDeps } from '../../cluster-app.js';

/** An agent's heartbeat; the host is the one its certificate names, whatever the body says. */
export function registerClusterHeartbeat(app: ClusterApp, deps: ClusterDeps): void {
  app.post(
    '/cluster/v1/heartbeat',
    {
      schema: {
        body: ClusterHeartbeat,
        response: { 200: ClusterHeartbeatReply, '4xx': ErrorBody },
      },
    },
    async (request) => {
      const host = await deps.hosts.heartbeat(callingHost(request), request.body);
      if (request.body.metrics !== undefined) deps.metrics?.record(host.id, request.body.metrics);
      return { hostName: host.name, state: host.state };
    },
  );
}
