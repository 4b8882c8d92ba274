import { DomainError } from '@novacron/domain';
import type { FastifyRequest } from 'fastify';
import { principalOf } from '../../authorization.js';
import type { ServerDeps } from '../../deps.js';
import type { SecondFactorService } from '../../services/second-factor.js';

export function secondFactorsOf(deps: ServerDeps): SecondFactorService {
  if (deps.secondFactors === undefined) {
    throw new DomainError('SECOND_FACTOR_CONFLICT', 'second factors are not set up on this server');
  }
  return deps.secondFactors;
}

/** The user behind a logged-in session: an API token cannot change its owner's second factor. */
export function sessionUserOf(request: FastifyRequest): { id: string; username: string } {
  const principal = principalOf(request);
  if (principal.kind !== 'user') {
    throw new DomainError('FORBIDDEN', 'an API token cannot change a second factor: log in');
  }
  return { id: principal.userId, username: principal.username };
}
