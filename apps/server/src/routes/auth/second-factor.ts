import { LoginResponse, LoginSecondFactorRequest } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { secondFactorsOf } from './totp-common.js';
import { issueSession } from './login.js';

/** POST /api/v1/auth/login/second-factor: the second step of a login (or of its enrolment). */
export function registerLoginSecondFactor(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/auth/login/second-factor',
    {
      config: { permission: 'public', action: 'auth.login.second_factor' },
      schema: {
        description:
          'Finishes a login that answered SECOND_FACTOR_REQUIRED: the challenge from its details and the current TOTP `code` (or a `recoveryCode`, good once). For a challenge with `enrol` true, the first code of the secret just enrolled activates it. A code is good once, within 30 s either side of its time step; failures count toward the login lockout.',
        body: LoginSecondFactorRequest,
        response: { 200: LoginResponse },
      },
    },
    async (request) => {
      const factors = secondFactorsOf(deps);
      const { challenge, code, recoveryCode } = request.body;
      const { user, purpose } = await factors.openChallenge(challenge, 'totp');
      deps.loginGuard.assertOpen(user.username, request.ip);
      let good: boolean;
      if (purpose === 'totp-enrol') {
        if (code === undefined) {
          throw new DomainError(
            'VALIDATION_FAILED',
            'the first code of a new factor is a TOTP code',
          );
        }
        good = await factors.activate(user.id, code).then(
          () => true,
          (error: unknown) => {
            if (error instanceof DomainError && error.code === 'INVALID_SECOND_FACTOR')
              return false;
            throw error;
          },
        );
      } else {
        good = await factors.check(user.id, { code, recoveryCode });
      }
      if (!good) {
        deps.loginGuard.failed(user.username, request.ip, 'invalid_second_factor');
        throw new DomainError('INVALID_SECOND_FACTOR', 'wrong, expired or already used code');
      }
      deps.loginGuard.succeeded(user.username);
      return issueSession(deps, user, request.log);
    },
  );
}
