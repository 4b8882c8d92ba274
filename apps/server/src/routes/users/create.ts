import { ErrorBody, User, UserCreate } from '@novacron/api';
import { hashPassword } from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import { DEFAULT_PROJECT } from '@novacron/store';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { userView } from './view.js';

export function registerUserCreate(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/users',
    {
      config: { permission: 'user.manage' },
      schema: {
        summary: 'Create a user with a role in a project, or a cluster admin (cluster admin)',
        body: UserCreate,
        response: { 201: User, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const { username, password, role, project, clusterAdmin } = request.body;
      if (clusterAdmin === true && (role !== undefined || project !== undefined)) {
        throw new DomainError(
          'VALIDATION_FAILED',
          'a cluster admin has every role in every project: give no role or project',
          { field: 'clusterAdmin' },
        );
      }
      const projectName = project ?? DEFAULT_PROJECT;
      if (clusterAdmin !== true && (await deps.store.projects.get(projectName)) === undefined) {
        throw new DomainError('PROJECT_NOT_FOUND', `project '${projectName}' not found`);
      }
      if ((await deps.store.users.getByUsername(username)) !== undefined) {
        throw new DomainError('USER_NAME_TAKEN', `user '${username}' already exists`, { username });
      }
      const passwordHash = await hashPassword(password);
      const user = await deps.store.transaction(async (tx) => {
        const created = await tx.users.create({
          username,
          passwordHash,
          role: clusterAdmin === true ? 'admin' : 'none',
        });
        if (clusterAdmin !== true) await tx.users.bind(created.id, projectName, role ?? 'viewer');
        return created;
      });
      return reply.status(201).send(await userView(deps, user));
    },
  );
}
