import { ErrorBody, Project, ProjectCreate } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { projectView } from './view.js';

export function registerProjectCreate(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/projects',
    {
      config: { permission: 'project.manage' },
      schema: {
        summary: 'Create a project, with quotas (cluster admin)',
        body: ProjectCreate,
        response: { 201: Project, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const { name, ...quotas } = request.body;
      await deps.store.projects.create(name, quotas);
      return reply.status(201).send(await projectView(deps, name));
    },
  );
}
