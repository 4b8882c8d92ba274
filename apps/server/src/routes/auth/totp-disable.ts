import { TotpDisableRequest, TotpStatus } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { secondFactorsOf, sessionUserOf } from './totp-common.js';

/** POST /api/v1/auth/totp/disable: turns the caller's factor off, with a code. */
export function registerTotpDisable(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/auth/totp/disable',
    {
      config: { permission: 'self', action: 'auth.totp.disable' },
      schema: {
        description:
          "Removes the caller's second factor and recovery codes; needs a current `code` or a `recoveryCode`, so a stolen access token alone cannot. A user an admin requires a factor of (or everyone, NOVACRON_TOTP_REQUIRED) must enrol again at the next login.",
        body: TotpDisableRequest,
        response: { 200: TotpStatus },
      },
    },
    async (request) => {
      const caller = sessionUserOf(request);
      const factors = secondFactorsOf(deps);
      const { code, recoveryCode } = request.body;
      await factors.disable(caller.id, { code, recoveryCode });
      return factors.status(caller.id);
    },
  );
}
