import { ApiTokenCreate, ApiTokenCreated, ErrorBody } from '@novacron/api';
import { authorize, canDelegate, newApiToken } from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import { DEFAULT_PROJECT } from '@novacron/store';
import { principalOf } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { tokenView } from './view.js';

const DEFAULT_TTL_DAYS = 90;

export function registerTokenCreate(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/tokens',
    {
      config: { permission: 'self', action: 'token.create' },
      schema: {
        summary: 'Create an API token for automation',
        description:
          'The token acts as its creator, within one project and a role no higher than the creator holds there, until it expires or is revoked. Its secret is in this answer only; the server keeps a hash.',
        body: ApiTokenCreate,
        response: { 201: ApiTokenCreated, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { name, role, expiresInDays } = request.body;
      const project = request.body.project ?? DEFAULT_PROJECT;
      if (!authorize(principal, 'project.read', project).allow) {
        throw new DomainError('PROJECT_NOT_FOUND', `project '${project}' not found`);
      }
      if (!canDelegate(principal, project, role)) {
        throw new DomainError(
          'FORBIDDEN',
          principal.kind === 'token'
            ? 'an API token cannot create tokens: log in'
            : `a token cannot have more than your own role in project '${project}'`,
          { project, role },
        );
      }
      const secret = newApiToken();
      const days = expiresInDays ?? DEFAULT_TTL_DAYS;
      const stored = await deps.store.apiTokens.create({
        name,
        userId: principal.userId,
        project,
        role,
        tokenHash: secret.hash,
        expiresAt: new Date(deps.clock.now().getTime() + days * 24 * 3600 * 1000),
      });
      return reply.status(201).send({ ...tokenView(stored), token: secret.token });
    },
  );
}
