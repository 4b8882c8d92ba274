import { Vm, VmListQuery, VmPage } from '@novacron/api';
import { parseLabelSelectors } from '@novacron/domain';
import { visibleProjects } from '@novacron/auth';
import { principalOf } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';

/** One schema object, so Fastify compiles its serializer once. */
const VM_SCHEMA = Vm as unknown as Record<string, unknown>;

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
      // A page not asked for within the cache's TTL is one read that fills no cache; one asked
      // for again has its ids read from the index and its VMs from the cache, each with its JSON
      // as the Vm schema serializes it, joined (docs/adr/0021-request-caches.md).
      if (vmCache === undefined || !vmCache.admitPage(request.url)) {
        return deps.store.vms.list(filter);
      }
      const { ids, nextCursor } = await deps.store.vms.listIds(filter);
      const items = await vmCache.getMany(ids);
      const serialize = reply.compileSerializationSchema(VM_SCHEMA) as (vm: Vm) => string;
      const json = items.map((vm) => vmCache.jsonOf(vm, serialize)).join(',');
      const page = `{"items":[${json}],"nextCursor":${JSON.stringify(nextCursor)}}`;
      return reply.type('application/json; charset=utf-8').send(page as never);
    },
  );
}
