/** When logins are refused after failures. */
export interface LoginThrottleOptions {
  /** Failures of one username within `windowMs` that lock it. */
  maxFailuresPerUser: number;
  /** Failures from one source address within `windowMs` that lock it (higher: NAT, offices). */
  maxFailuresPerAddress: number;
  windowMs: number;
  /** How long a lock lasts. */
  lockoutMs: number;
  /** Keys kept at most; the oldest are forgotten first (a flood of usernames cannot grow memory). */
  maxKeys: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = {
  maxFailuresPerUser: 5,
  maxFailuresPerAddress: 20,
  windowMs: 15 * 60_000,
  lockoutMs: 15 * 60_000,
  maxKeys: 100_000,
};

interface Entry {
  /** Times of the failures inside the window, oldest first. */
  failures: number[];
  lockedUntil: number;
}

export type ThrottleVerdict = { locked: false } | { locked: true; retryAfterSeconds: number };

/**
 * Counts failed logins per username and per source address and locks a key once it has too
 * many within the window. In memory: one server process (the embedded case); replicas each
 * keep their own counts. A username that does not exist is counted the same
 * way, so a lock says nothing about which users exist. Time comes in as a parameter.
 */
export class LoginThrottle {
  readonly #entries = new Map<string, Entry>();

  constructor(readonly options: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE) {}

  /** Whether a login for `username` from `address` is refused now, and for how long. */
  check(username: string, address: string, now: Date): ThrottleVerdict {
    let until = 0;
    for (const key of keysOf(username, address)) {
      const entry = this.#entries.get(key);
      if (entry !== undefined && entry.lockedUntil > now.getTime()) {
        until = Math.max(until, entry.lockedUntil);
      }
    }
    if (until === 0) return { locked: false };
    return { locked: true, retryAfterSeconds: Math.ceil((until - now.getTime()) / 1000) };
  }

  /** Records a failure; returns the keys this failure locked (`user:<name>`, `address:<ip>`). */
  failure(username: string, address: string, now: Date): string[] {
    const t = now.getTime();
    const locked: string[] = [];
    const [userKey, addressKey] = keysOf(username, address);
    for (const [key, max] of [
      [userKey, this.options.maxFailuresPerUser],
      [addressKey, this.options.maxFailuresPerAddress],
    ] as const) {
      const entry = this.#entries.get(key) ?? { failures: [], lockedUntil: 0 };
      entry.failures = entry.failures.filter((at) => at > t - this.options.windowMs);
      entry.failures.push(t);
      if (entry.failures.length >= max && entry.lockedUntil <= t) {
        entry.lockedUntil = t + this.options.lockoutMs;
        entry.failures = [];
        locked.push(key);
      }
      // Re-inserted so that the map's order is the order of last use.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    this.#forgetOldest();
    return locked;
  }

  /** A successful login clears the user's failures (not the address's: one good account should not unlock guessing at others). */
  success(username: string): void {
    this.#entries.delete(userKey(username));
  }

  #forgetOldest(): void {
    while (this.#entries.size > this.options.maxKeys) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) return;
      this.#entries.delete(oldest.value);
    }
  }
}

const userKey = (username: string) => `user:${username.toLowerCase()}`;

function keysOf(username: string, address: string): [string, string] {
  return [userKey(username), `address:${address}`];
}
