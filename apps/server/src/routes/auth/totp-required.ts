import { TotpRequirement, TotpRequirementParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { secondFactorsOf } from './totp-common.js';

/** PUT /api/v1/users/{username}/totp-required: whether a user must have a second factor. */
export function registerTotpRequired(app: ServerApp, deps: ServerDeps): void {
  app.put(
    '/api/v1/users/:username/totp-required',
    {
      config: { permission: 'user.manage', action: 'user.totp_required' },
      schema: {
        description:
          'Requires a second factor of one user (or stops requiring it). A user without one is asked to enrol at the next login; one with a factor keeps it either way.',
        params: TotpRequirementParams,
        body: TotpRequirement,
        response: { 200: TotpRequirement },
      },
    },
    async (request) => {
      const user = await deps.store.users.getByUsername(request.params.username);
      if (user === undefined) {
        throw new DomainError('USER_NOT_FOUND', `no user ${request.params.username}`);
      }
      await secondFactorsOf(deps).setRequired(user.id, request.body.required);
      return { required: request.body.required };
    },
  );
}
