import { VmListQuery, VmPage } from '@novacron/api';
import { parseLabelSelectors } from '@novacron/domain';
import { visibleProjects } from '@novacron/auth';
import { principalOf } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { sendJson, vmJson } from './vm-json.js';

export function registerVmList(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/vms',
    {
      config: { permission: 'vm.read', scope: 'query' },
      schema: { querystring: VmListQuery, response: { 200: VmPage } },
    },
    async (request, reply) => {
      const { limit, cursor, state, host, project, label } = request.query;
      // Without a project (checked by the authorizer), the caller's own projects.
      const projects =
        project === undefined ? visibleProjects(principalOf(request), 'vm.read') : undefined;
      const filter = {
        ...(projects === undefined ? {} : { projects }),
        limit: limit ?? 100,
        ...(cursor === undefined ? {} : { cursor }),
        ...(state === undefined ? {} : { state }),
        ...(host === undefined ? {} : { host }),
        ...(project === undefined ? {} : { project }),
        ...(label === undefined ? {} : { labels: parseLabelSelectors(label) }),
      };
      const { vmCache } = deps;
      if (vmCache === undefined) return deps.store.vms.list(filter);
      // What the page holds depends on its query and, without a project, on whose it is.
      const key = projects === undefined ? request.url : `${request.url}\n${projects.join('\n')}`;
      // A page asked for again within the cache's TTL is kept whole until any vm.* event; the
      // first time it is one read that fills no cache (docs/adr/0021-request-caches.md).
      const kept = vmCache.page(key);
      if (kept !== undefined) return sendJson(reply, kept);
      if (!vmCache.admitPage(key)) return deps.store.vms.list(filter);
      const mark = vmCache.mark();
      const { ids, nextCursor } = await deps.store.vms.listIds(filter);
      const items = await vmCache.getMany(ids);
      const json = items.map((vm) => vmJson(reply, vmCache, vm)).join(',');
      const page = `{"items":[${json}],"nextCursor":${JSON.stringify(nextCursor)}}`;
      vmCache.keepPage(key, mark, page);
      return sendJson(reply, page);
    },
  );
}
