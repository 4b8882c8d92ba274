import { NameParams, Project, ProjectQuotasPatch } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { projectView } from './view.js';

export function registerProjectPatch(app: ServerApp, deps: ServerDeps): void {
  app.patch(
    '/api/v1/projects/:name',
    {
      config: { permission: 'project.manage', scope: 'project' },
      schema: {
        summary: 'Change the quotas of a project (cluster admin); null lifts one',
        params: NameParams,
        body: ProjectQuotasPatch,
        response: { 200: Project },
      },
    },
    async (request) => {
      const { name } = request.params;
      if ((await deps.store.projects.setQuotas(name, request.body)) === undefined) {
        throw new DomainError('PROJECT_NOT_FOUND', `project '${name}' not found`);
      }
      return projectView(deps, name);
    },
  );
}
