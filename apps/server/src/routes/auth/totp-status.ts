import { TotpStatus } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { secondFactorsOf, sessionUserOf } from './totp-common.js';

/** GET /api/v1/auth/totp: the caller's second factor. */
export function registerTotpStatus(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/auth/totp',
    {
      config: { permission: 'self' },
      schema: { description: "The caller's TOTP second factor.", response: { 200: TotpStatus } },
    },
    async (request) => secondFactorsOf(deps).status(sessionUserOf(request).id),
  );
}
