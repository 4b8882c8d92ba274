import { VmListQuery, VmPage } from '@novacron/api';
import { parseLabelSelectors } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerVmList(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/vms',
    { schema: { querystring: VmListQuery, response: { 200: VmPage } } },
    async (request) => {
      const { limit, cursor, state, host, project, label } = request.query;
      return deps.store.vms.list({
        limit: limit ?? 100,
        ...(cursor === undefined ? {} : { cursor }),
        ...(state === undefined ? {} : { state }),
        ...(host === undefined ? {} : { host }),
        ...(project === undefined ? {} : { project }),
        ...(label === undefined ? {} : { labels: parseLabelSelectors(label) }),
      });
    },
  );
}
