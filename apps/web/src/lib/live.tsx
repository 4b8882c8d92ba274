'use client';

import type { Event, MigrationProgress } from '@novacron/api';
import { isNovaCronError, type EventStream } from '@novacron/client';
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import {
  createContext,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from 'react';
import {
  appendSample,
  changesOf,
  patchPage,
  routeLive,
  type CacheChange,
  type ListPage,
  type Sample,
} from './live-cache';
import { useSession } from './session';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'offline';

type Listener = () => void;

/** Keyed values that components read with useSyncExternalStore. */
class KeyedStore<T> {
  private readonly values = new Map<string, T>();
  private readonly listeners = new Map<string, Set<Listener>>();

  get(key: string): T | undefined {
    return this.values.get(key);
  }

  set(key: string, value: T): void {
    this.values.set(key, value);
    for (const listener of this.listeners.get(key) ?? []) listener();
  }

  subscribe(key: string, listener: Listener): () => void {
    let set = this.listeners.get(key);
    if (set === undefined) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }
}

/** Recent stored events, newest first, for the overview. */
const RECENT_EVENTS = 50;
const EMPTY: readonly never[] = [];

interface LiveContextValue {
  status: LiveStatus;
  /** Why the stream is not live, when it is not. */
  problem: string | undefined;
  samples: KeyedStore<Sample[]>;
  progress: KeyedStore<MigrationProgress & { at: string }>;
  recent: KeyedStore<Event[]>;
  lastSeq: number | undefined;
}

const LiveContext = createContext<LiveContextValue | undefined>(undefined);

const SEQ_KEY = 'novacron.lastSeq';

function applyChange(queries: QueryClient, change: CacheChange): void {
  switch (change.kind) {
    case 'set':
      queries.setQueryData([...change.key], change.value);
      return;
    case 'remove':
      queries.removeQueries({ queryKey: [...change.key], exact: true });
      return;
    case 'patch-lists':
      queries.setQueriesData<ListPage<{ id: string }>>({ queryKey: [change.prefix] }, (page) =>
        patchPage(page, change.id, change.value as { id: string }),
      );
      return;
    case 'invalidate':
      void queries.invalidateQueries({ queryKey: [change.prefix] });
      return;
  }
}

/**
 * Holds one event stream for the signed-in tab: stored events update the query caches, live ones
 * feed the charts and progress bars. The client reconnects a dropped stream and resumes after the
 * last seq; when the server refuses it (an expired token) this opens it again with the refreshed
 * token, resuming from the same seq. The seq is kept in sessionStorage, so a reload resumes too.
 */
export function LiveEventsProvider({ children }: { children: ReactNode }) {
  const { client, session, refresh } = useSession();
  const queries = useQueryClient();
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const stores = useRef({
    samples: new KeyedStore<Sample[]>(),
    progress: new KeyedStore<MigrationProgress & { at: string }>(),
    recent: new KeyedStore<Event[]>(),
  });
  const lastSeq = useRef<number | undefined>(undefined);
  const backfilled = useRef(false);
  const [reopen, setReopen] = useState(0);

  useEffect(() => {
    if (session === undefined) return;
    if (lastSeq.current === undefined) {
      const saved = Number(window.sessionStorage.getItem(SEQ_KEY) ?? Number.NaN);
      if (Number.isInteger(saved) && saved >= 0) lastSeq.current = saved;
    }
    const { samples, progress, recent } = stores.current;
    let stream: EventStream | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    setStatus(lastSeq.current === undefined ? 'connecting' : 'reconnecting');
    const onEvent = (event: Event) => {
      lastSeq.current = event.seq;
      window.sessionStorage.setItem(SEQ_KEY, String(event.seq));
      setStatus('live');
      for (const change of changesOf(event)) applyChange(queries, change);
      recent.set('all', [event, ...(recent.get('all') ?? [])].slice(0, RECENT_EVENTS));
    };
    try {
      stream = client.events({
        ...(lastSeq.current === undefined ? {} : { since: lastSeq.current }),
        onEvent,
        onLive: (event) => {
          setStatus('live');
          const routed = routeLive(event);
          if (routed.kind === 'sample') {
            samples.set(routed.key, appendSample(samples.get(routed.key) ?? [], routed.sample));
          } else {
            progress.set(routed.operation, routed.progress);
          }
        },
        onReconnect: ({ reason }) => {
          setStatus('reconnecting');
          setProblem(reason);
        },
      });
    } catch (error) {
      setStatus('offline');
      setProblem(error instanceof Error ? error.message : String(error));
      return;
    }
    // The first frame may take a while when nothing happens: the stream counts as live once open.
    const opened = setInterval(() => {
      if (!closed && stream?.lastSeq !== undefined) {
        clearInterval(opened);
        lastSeq.current = stream.lastSeq;
        setStatus('live');
        setProblem(undefined);
        if (!backfilled.current) backfill(stream.lastSeq);
      }
    }, 250);
    // The overview's recent events: the stored ones before the stream's start, replayed once by a
    // second stream that closes when it reaches that point. They change no cache: those are newer.
    let history: EventStream | undefined;
    const backfill = (head: number) => {
      backfilled.current = true;
      recent.set('all', recent.get('all') ?? []);
      if (head === 0) return;
      const seen: Event[] = [];
      const finish = () => {
        history?.close();
        const newer = (recent.get('all') ?? []).filter((event) => event.seq > head);
        recent.set('all', [...newer, ...seen.reverse()].slice(0, RECENT_EVENTS));
      };
      const giveUp = setTimeout(finish, 5_000);
      try {
        history = client.events({
          since: Math.max(0, head - RECENT_EVENTS),
          onEvent: (event) => {
            if (event.seq <= head) seen.push(event);
            if (event.seq >= head) {
              clearTimeout(giveUp);
              finish();
            }
          },
        });
      } catch {
        clearTimeout(giveUp);
      }
    };
    stream.done.then(
      () => undefined,
      async (error: unknown) => {
        if (closed) return;
        lastSeq.current = stream?.lastSeq ?? lastSeq.current;
        setStatus('offline');
        setProblem(error instanceof Error ? error.message : String(error));
        // A refused token: refresh it (the session changes, and this effect runs again).
        if (isNovaCronError(error) && error.code === 'UNAUTHENTICATED' && (await refresh())) return;
        retry = setTimeout(() => setReopen((n) => n + 1), 3_000);
      },
    );
    return () => {
      closed = true;
      history?.close();
      clearInterval(opened);
      if (retry !== undefined) clearTimeout(retry);
      lastSeq.current = stream?.lastSeq ?? lastSeq.current;
      stream?.close();
    };
  }, [client, session, queries, refresh, reopen]);

  const value = useMemo(
    () => ({ status, problem, ...stores.current, lastSeq: lastSeq.current }),
    [status, problem],
  );
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

function useLive(): LiveContextValue {
  const value = useContext(LiveContext);
  if (value === undefined) throw new Error('useLive outside LiveEventsProvider');
  return value;
}

/** Whether the event stream is live, and why not. */
export function useLiveStatus(): { status: LiveStatus; problem: string | undefined } {
  const { status, problem } = useLive();
  return { status, problem };
}

function useKeyed<T>(store: KeyedStore<T>, key: string | undefined): T | undefined {
  return useSyncExternalStore(
    (listener) => (key === undefined ? () => undefined : store.subscribe(key, listener)),
    () => (key === undefined ? undefined : store.get(key)),
    () => undefined,
  );
}

/** The `metrics.sample` events received for a VM or host since the page opened, oldest first. */
export function useLiveSamples<T extends Sample>(kind: 'vm' | 'host', id: string | undefined) {
  const { samples } = useLive();
  return (useKeyed(samples, id === undefined ? undefined : `${kind}:${id}`) ?? EMPTY) as T[];
}

/** The latest `migration.progress` of a migrate operation. */
export function useMigrationProgress(operationId: string | undefined) {
  return useKeyed(useLive().progress, operationId);
}

/** Stored events seen by this tab, newest first. */
export function useRecentEvents(): readonly Event[] {
  return useKeyed(useLive().recent, 'all') ?? EMPTY;
}
