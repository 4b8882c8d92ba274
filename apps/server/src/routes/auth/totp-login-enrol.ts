import { LoginTotpEnrolRequest, TotpEnrolment } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { secondFactorsOf } from './totp-common.js';

/** POST /api/v1/auth/login/totp-enrol: enrolment for a user who must have a factor to log in. */
export function registerLoginTotpEnrol(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/auth/login/totp-enrol',
    {
      config: { permission: 'public', action: 'auth.totp.enrol' },
      schema: {
        description:
          'For a login that answered SECOND_FACTOR_REQUIRED with `enrol` true: a new TOTP secret (otpauth URI, QR code, recovery codes, shown once). Finish the login with its first code at POST /api/v1/auth/login/second-factor, same challenge.',
        body: LoginTotpEnrolRequest,
        response: { 200: TotpEnrolment },
      },
    },
    async (request) => {
      const factors = secondFactorsOf(deps);
      const { user } = await factors.openChallenge(request.body.challenge, 'totp-enrol');
      deps.loginGuard.assertOpen(user.username, request.ip);
      return factors.enrol(user);
    },
  );
}
