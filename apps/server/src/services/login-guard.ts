import { LoginThrottle, type LoginThrottleOptions } from '@novacron/auth';
import { DomainError, type Clock } from '@novacron/domain';
import type { Logger, LoginResult } from '@novacron/telemetry';
import type { AuditService } from './audit.js';

/** Told when a lockout starts (audit), and of each login's result (metrics). */
export interface LoginGuardHooks {
  onLockout?(lock: { key: string; username: string; sourceAddress: string }): void;
  onResult?(result: LoginResult): void;
}

/**
 * The login throttle at the edge of the login routes: refuses a locked username or address with
 * LOGIN_LOCKED (429 and Retry-After) before any password is checked, and counts failures of the
 * password and of the second factor alike.
 */
export class LoginGuard {
  readonly #throttle: LoginThrottle;

  constructor(
    private readonly clock: Clock,
    options?: LoginThrottleOptions,
    public hooks: LoginGuardHooks = {},
  ) {
    this.#throttle = new LoginThrottle(options);
  }

  /** Throws LOGIN_LOCKED while `username` or `sourceAddress` is locked. */
  assertOpen(username: string, sourceAddress: string): void {
    const verdict = this.#throttle.check(username, sourceAddress, this.clock.now());
    if (!verdict.locked) return;
    this.hooks.onResult?.('locked');
    throw new DomainError(
      'LOGIN_LOCKED',
      `too many failed logins: try again in ${verdict.retryAfterSeconds} s`,
      { retryAfterSeconds: verdict.retryAfterSeconds },
    );
  }

  failed(username: string, sourceAddress: string, result: LoginResult): void {
    this.hooks.onResult?.(result);
    for (const key of this.#throttle.failure(username, sourceAddress, this.clock.now())) {
      this.hooks.onLockout?.({ key, username, sourceAddress });
    }
  }

  succeeded(username: string, result: LoginResult = 'success'): void {
    this.hooks.onResult?.(result);
    if (result === 'success') this.#throttle.success(username);
  }
}

/** Lockouts go to the audit log as `auth.lockout` (refused logins are audited per request). */
export function auditLockouts(guard: LoginGuard, audit: AuditService, logger: Logger): void {
  guard.hooks.onLockout = ({ key, username, sourceAddress }) => {
    audit
      .record({
        actor: username,
        action: 'auth.lockout',
        sourceAddress,
        result: 'LOGIN_LOCKED',
        details: { locked: key.startsWith('user:') ? 'username' : 'address' },
      })
      .catch((error: unknown) => logger.error({ err: error }, 'audit of a lockout failed'));
  };
}
