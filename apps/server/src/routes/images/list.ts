import { ImagePage, type Image } from '@novacron/api';
import { visibleProjects } from '@novacron/auth';
import { principalOf } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerImageList(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/images',
    { config: { permission: 'image.read' }, schema: { response: { 200: ImagePage } } },
    async (request) => {
      // The images of every project the caller may read (every project for the cluster admin).
      const projects =
        visibleProjects(principalOf(request), 'image.read') ??
        (await deps.store.projects.list()).map((project) => project.name);
      const items: Image[] = [];
      for (const project of projects) items.push(...(await deps.store.images.list(project)));
      return { items, nextCursor: null };
    },
  );
}
