import { TotpStatus, TotpVerifyRequest } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { secondFactorsOf, sessionUserOf } from './totp-common.js';

/** POST /api/v1/auth/totp/verify: the first code of an enrolled secret turns it on. */
export function registerTotpVerify(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/auth/totp/verify',
    {
      config: { permission: 'self', action: 'auth.totp.verify' },
      schema: {
        description:
          'Activates the enrolled secret with its current code; from then on, logins ask for a code. 401 INVALID_SECOND_FACTOR for a wrong or expired code.',
        body: TotpVerifyRequest,
        response: { 200: TotpStatus },
      },
    },
    async (request) => {
      const caller = sessionUserOf(request);
      const factors = secondFactorsOf(deps);
      await factors.activate(caller.id, request.body.code);
      return factors.status(caller.id);
    },
  );
}
