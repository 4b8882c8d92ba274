import { ErrorBody, HostAdd, HostJoinToken } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { FastifyRequest } from 'fastify';
import type { ServerApp, ServerDeps } from '../../deps.js';

/** An admin adds a host: a one-time join token bound to its name, and the command that uses it. */
export function registerHostAdd(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/hosts',
    {
      schema: {
        summary: 'Add a host: a one-time join token (admin)',
        description:
          'The token is bound to the host name, valid for an hour, usable once, and shown only in this answer. The machine joins with `joinCommand`.',
        body: HostAdd,
        response: { 201: HostJoinToken, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      await requireAdmin(request, deps);
      if (deps.trust === undefined) {
        throw new DomainError('INTERNAL', 'this server was started without a cluster CA');
      }
      const token = await deps.trust.createJoinToken(request.body.name);
      return reply.status(201).send(token);
    },
  );
}

/** A join token makes a machine part of the cluster: only an admin may ask for one. */
async function requireAdmin(request: FastifyRequest, deps: ServerDeps): Promise<void> {
  // The authenticator has already checked the token; its claims say the role.
  const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
  const claims = await deps.tokens.verify(token, deps.clock.now());
  if (claims.role !== 'admin') {
    throw new DomainError('FORBIDDEN', 'adding a host needs the admin role', {
      role: claims.role,
    });
  }
}
