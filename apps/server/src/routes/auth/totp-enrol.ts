import { TotpEnrolment } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { secondFactorsOf, sessionUserOf } from './totp-common.js';

/** POST /api/v1/auth/totp/enrol: a new TOTP secret for the caller, pending until verified. */
export function registerTotpEnrol(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/auth/totp/enrol',
    {
      config: { permission: 'self', action: 'auth.totp.enrol' },
      schema: {
        description:
          'A new TOTP secret for the caller: otpauth URI, its QR code (SVG data URL) and ten recovery codes, shown this once (the server keeps the secret sealed and only hashes of the codes). Logins ask for a code once it is verified (POST /api/v1/auth/totp/verify). 409 SECOND_FACTOR_CONFLICT when a factor is already enabled.',
        response: { 200: TotpEnrolment },
      },
    },
    async (request) => {
      const caller = sessionUserOf(request);
      const user = await deps.store.users.get(caller.id);
      if (user === undefined) throw new Error(`user ${caller.id} of a live session is gone`);
      return secondFactorsOf(deps).enrol(user);
    },
  );
}
