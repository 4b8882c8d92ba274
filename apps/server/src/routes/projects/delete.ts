import { NameParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { DEFAULT_PROJECT } from '@novacron/store';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerProjectDelete(app: ServerApp, deps: ServerDeps): void {
  app.delete(
    '/api/v1/projects/:name',
    {
      config: { permission: 'project.manage', scope: 'project' },
      schema: { summary: 'Delete an empty project (cluster admin)', params: NameParams },
    },
    async (request, reply) => {
      const { name } = request.params;
      if (name === DEFAULT_PROJECT) {
        throw new DomainError('VALIDATION_FAILED', `the ${DEFAULT_PROJECT} project stays`, {
          field: 'name',
        });
      }
      if (!(await deps.store.projects.delete(name))) {
        throw new DomainError('PROJECT_NOT_FOUND', `project '${name}' not found`);
      }
      return reply.status(204).send();
    },
  );
}
