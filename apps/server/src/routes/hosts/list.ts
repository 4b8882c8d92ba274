import { HostPage } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerHostList(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/hosts',
    { config: { permission: 'host.read' }, schema: { response: { 200: HostPage } } },
    async () => ({
      items: await deps.store.hosts.list(),
      nextCursor: null,
    }),
  );
}
