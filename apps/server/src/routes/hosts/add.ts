import { ErrorBody, HostAdd, HostJoinToken } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';

/** An admin adds a host: a one-time join token bound to its name, and the command that uses it. */
export function registerHostAdd(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/hosts',
    {
      config: { permission: 'host.manage' },
      schema: {
        summary: 'Add a host: a one-time join token (admin)',
        description:
          'The token is bound to the host name, valid for an hour, usable once, and shown only in this answer. The machine joins with `joinCommand`.',
        body: HostAdd,
        response: { 201: HostJoinToken, '4xx': ErrorBody },
      },
    },
    async (request, reply) => {
      if (deps.trust === undefined) {
        throw new DomainError('INTERNAL', 'this server was started without a cluster CA');
      }
      const token = await deps.trust.createJoinToken(request.body.name);
      return reply.status(201).send(token);
    },
  );
}
