import { ProjectPage } from '@novacron/api';
import { visibleProjects } from '@novacron/auth';
import { principalOf } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { projectView } from './view.js';

export function registerProjectList(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/projects',
    {
      config: { permission: 'project.read' },
      schema: {
        summary: 'List the projects the caller has a role in',
        response: { 200: ProjectPage },
      },
    },
    async (request) => {
      const visible = visibleProjects(principalOf(request), 'project.read');
      const names = (await deps.store.projects.list())
        .map((project) => project.name)
        .filter((name) => visible === undefined || visible.includes(name));
      return {
        items: await Promise.all(names.map((name) => projectView(deps, name))),
        nextCursor: null,
      };
    },
  );
}
