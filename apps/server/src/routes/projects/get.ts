import { NameParams, Project } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { projectView } from './view.js';

export function registerProjectGet(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/projects/:name',
    {
      config: { permission: 'project.read', scope: 'project' },
      schema: { params: NameParams, response: { 200: Project } },
    },
    async (request) => projectView(deps, request.params.name),
  );
}
