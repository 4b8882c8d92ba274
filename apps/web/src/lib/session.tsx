'use client';

import type { LoginResponse } from '@novacron/api';
import { isNovaCronError, NovaCronClient } from '@novacron/client';
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from 'react';

/** What a login gave: kept in this tab's sessionStorage (a new tab logs in again). */
export interface StoredSession {
  username: string;
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
}

interface SessionContextValue {
  /** Undefined until the stored session was read (the first render after load). */
  ready: boolean;
  session: StoredSession | undefined;
  /** A client with the current access token; without a session, one for login only. */
  client: NovaCronClient;
  /** Why the last session ended on its own (expired, refused), shown on the login page. */
  endedReason: string | undefined;
  signedIn: (username: string, tokens: LoginResponse) => void;
  logout: () => Promise<void>;
  /** Trades the refresh token for new tokens; ends the session when refused. */
  refresh: () => Promise<boolean>;
}

const KEY = 'novacron.session';
// Refresh this long before the access token expires.
const REFRESH_MARGIN_MS = 60_000;

/** The API lives where the page came from (the server serves both). */
export function apiBaseUrl(): string {
  return typeof window === 'undefined' ? 'http://localhost' : window.location.origin;
}

function load(): StoredSession | undefined {
  try {
    const raw = window.sessionStorage.getItem(KEY);
    if (raw === null) return undefined;
    const value = JSON.parse(raw) as Partial<StoredSession>;
    if (
      typeof value.username === 'string' &&
      typeof value.accessToken === 'string' &&
      typeof value.refreshToken === 'string' &&
      typeof value.expiresAt === 'string'
    ) {
      return value as StoredSession;
    }
  } catch {
    // Storage unavailable or damaged: start signed out.
  }
  return undefined;
}

function save(session: StoredSession | undefined): void {
  try {
    if (session === undefined) window.sessionStorage.removeItem(KEY);
    else window.sessionStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // Private mode without storage: the session lives in memory only.
  }
}

const SessionContext = createContext<SessionContextValue | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [ready, setReady] = useState(false);
  const [session, setSession] = useState<StoredSession | undefined>(undefined);
  const [endedReason, setEndedReason] = useState<string | undefined>(undefined);
  const refreshing = useRef<Promise<boolean> | undefined>(undefined);
  const current = useRef<StoredSession | undefined>(undefined);

  const update = useCallback((next: StoredSession | undefined) => {
    current.current = next;
    save(next);
    setSession(next);
  }, []);

  useEffect(() => {
    const stored = load();
    current.current = stored;
    setSession(stored);
    setReady(true);
  }, []);

  const client = useMemo(
    () =>
      new NovaCronClient({
        baseUrl: apiBaseUrl(),
        ...(session === undefined ? {} : { token: session.accessToken }),
      }),
    [session],
  );

  const signedIn = useCallback(
    (username: string, tokens: LoginResponse) => {
      setEndedReason(undefined);
      update({ username, ...tokens });
    },
    [update],
  );

  const refresh = useCallback((): Promise<boolean> => {
    refreshing.current ??= (async () => {
      const now = current.current;
      if (now === undefined) return false;
      try {
        const tokens = await new NovaCronClient({ baseUrl: apiBaseUrl() }).refresh(
          now.refreshToken,
        );
        update({ username: now.username, ...tokens });
        return true;
      } catch (error) {
        // A connection failure keeps the session: the next try may reach the server.
        if (isNovaCronError(error) && error.code !== 'CONNECTION_FAILED') {
          setEndedReason(`Your session ended: ${error.message}`);
          update(undefined);
        }
        return false;
      } finally {
        refreshing.current = undefined;
      }
    })();
    return refreshing.current;
  }, [update]);

  const logout = useCallback(async () => {
    try {
      await client.logout();
    } catch {
      // The session is dropped here either way; the server lets the tokens expire.
    }
    setEndedReason(undefined);
    update(undefined);
  }, [client, update]);

  // Refresh ahead of expiry, and again after each refresh.
  useEffect(() => {
    if (session === undefined) return;
    const due = Date.parse(session.expiresAt) - Date.now() - REFRESH_MARGIN_MS;
    const timer = setTimeout(() => void refresh(), Math.max(1_000, due));
    return () => clearTimeout(timer);
  }, [session, refresh]);

  const value = useMemo(
    () => ({ ready, session, client, endedReason, signedIn, logout, refresh }),
    [ready, session, client, endedReason, signedIn, logout, refresh],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (value === undefined) throw new Error('useSession outside SessionProvider');
  return value;
}

/** The API client of the signed-in user. */
export function useApi(): NovaCronClient {
  return useSession().client;
}
