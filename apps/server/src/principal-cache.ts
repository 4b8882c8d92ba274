import type { Principal } from '@novacron/auth';
import type { Clock } from '@novacron/domain';
import type { Store } from '@novacron/store';

/**
 * How long a resolved caller is trusted without reading the store again. Writes through this
 * server drop it at once; the TTL bounds what a write through another replica (or the store
 * opened by another process) leaves stale (docs/adr/0021-request-caches.md).
 */
export const PRINCIPAL_TTL_MS = 2000;
const MAX_ENTRIES = 10_000;

interface Entry {
  principal: Principal;
  /** When the session or API token itself expires (ms since the epoch). */
  expiresAt: number;
  /** When this entry stops being trusted (ms since the epoch). */
  staleAt: number;
}

/**
 * The callers this server resolved recently, by the bearer token's text (an access token or an
 * API token; a hash would cost a SHA-256 per request): the JWT check and the session, user,
 * bindings and API token reads of authentication, at most once per TTL per token. Any write to sessions, users, bindings, API tokens or projects through the
 * store `guard` returns drops every entry, before the write and again after it; a resolution that
 * read the store while such a write ran is not kept, so no entry can hold what a write replaced.
 */
export class PrincipalCache {
  readonly #entries = new Map<string, Entry>();
  #generation = 0;
  #writing = 0;

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = PRINCIPAL_TTL_MS,
  ) {}

  /** The cached caller for `key`, unless its entry is stale or its session or token expired. */
  get(key: string): Principal | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    const now = this.clock.now().getTime();
    if (now >= entry.staleAt || now >= entry.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.principal;
  }

  /** A mark to take before reading the store; `set` keeps the result only if nothing wrote since. */
  mark(): number {
    return this.#writing > 0 ? -1 : this.#generation;
  }

  set(key: string, mark: number, principal: Principal, expiresAt: number): void {
    if (mark !== this.#generation || this.#writing > 0) return;
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    const now = this.clock.now().getTime();
    this.#entries.set(key, { principal, expiresAt, staleAt: now + this.ttlMs });
  }

  /** Drops every entry (a write that may change who someone is or what they may do). */
  invalidate(): void {
    this.#generation += 1;
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * `store` with every write to the repositories a principal is made of (and every transaction)
   * dropping the cache before it starts and after it settles. Reads pass through untouched;
   * a method not listed as a read counts as a write, so a new one cannot skip invalidation.
   */
  guard(store: Store): Store {
    const during = async <T>(write: () => Promise<T>): Promise<T> => {
      this.#writing += 1;
      this.invalidate();
      try {
        return await write();
      } finally {
        this.#writing -= 1;
        this.invalidate();
      }
    };
    const wrap = <R extends object>(repository: R, reads: ReadonlySet<string>): R => {
      const wrapped: Record<string, unknown> = { ...(repository as Record<string, unknown>) };
      for (const [name, value] of Object.entries(repository as Record<string, unknown>)) {
        if (typeof value !== 'function' || reads.has(name)) continue;
        const method = value as (...args: unknown[]) => Promise<unknown>;
        wrapped[name] = (...args: unknown[]) => during(() => method.apply(repository, args));
      }
      return wrapped as R;
    };
    return {
      ...store,
      sessions: wrap(store.sessions, SESSION_READS),
      users: wrap(store.users, USER_READS),
      apiTokens: wrap(store.apiTokens, API_TOKEN_READS),
      projects: wrap(store.projects, PROJECT_READS),
      transaction: (fn) => during(() => store.transaction(fn)),
    };
  }
}

const SESSION_READS = new Set(['get', 'getByRefreshTokenHash', 'getByRotatedHash', 'getWithUser']);
const USER_READS = new Set(['get', 'getByUsername', 'count', 'list', 'bindings']);
// markUsed writes only when the token was last used, which no principal holds.
const API_TOKEN_READS = new Set(['get', 'getByHash', 'list', 'markUsed']);
const PROJECT_READS = new Set(['get', 'list', 'usage', 'lock']);
