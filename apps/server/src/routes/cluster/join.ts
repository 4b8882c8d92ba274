import { ClusterJoinRequest, ClusterJoinResponse, ErrorBody } from '@novacron/api';
import type { ClusterApp, ClusterDeps } from '../../cluster-app.js';

export const JOIN_PATH = '/cluster/v1/join';

/** The one cluster call without a client certificate: a join token and a CSR for a certificate. */
export function registerClusterJoin(app: ClusterApp, deps: ClusterDeps): void {
  app.post(
    JOIN_PATH,
    {
      bodyLimit: 64 * 1024,
      schema: {
        body: ClusterJoinRequest,
        response: { 200: ClusterJoinResponse, '4xx': ErrorBody },
      },
    },
    (request) => deps.trust.join(request.body),
  );
}
