import {
  EVENT_STREAM_CLOSE_CODES,
  EVENT_TYPE_PATTERN,
  EVENT_TYPES,
  httpStatusOf,
  LIVE_EVENT_TYPES,
  MAX_EVENT_TYPE_PATTERNS,
  type ErrorCode,
  type Event,
  type EventStreamServerMessage,
  type LiveEvent,
} from '@novacron/api';
import { NovaCronApiError, NovaCronConnectionError, NovaCronError } from './errors.js';

/**
 * The standard WebSocket surface the stream uses: a browser's own, or the `ws` package's in Node.
 * Handlers are typed to take `never` so that both implementations fit; each passes its own event
 * classes, and every one carries what the stream reads (`data`, `code`, `reason`, `message`).
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface EventStreamOptions {
  /** Replay the stored events after this seq first; without it, only new events. */
  since?: number;
  /** Event types or prefixes (`vm.*`, `metrics.*`), stored or live; all types when absent. */
  types?: readonly string[];
  /** Only events of this project. */
  project?: string;
  /** Called with each event once, in seq order, across reconnects. */
  onEvent: (event: Event) => void;
  /**
   * Called with each live event (`metrics.sample`, `migration.progress`): not stored, so not
   * resumed after a reconnect; `dropped` counts the ones the server dropped just before this one
   * because this reader was behind. Without it, live frames are ignored (filter them out with
   * `types` to spare the traffic).
   */
  onLive?: (event: LiveEvent, info: { dropped: number }) => void;
  /** Called when the connection dropped and the stream is about to reconnect. */
  onReconnect?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** The WebSocket class; default the global one. Node 20 has none: pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect delays: the first, doubled at each failed attempt up to the max. */
  reconnectDelayMs?: { initial: number; max: number };
  /** Closes the stream when aborted. */
  signal?: AbortSignal;
}

export interface EventStream {
  /** The seq of the last event delivered, or where the stream started; resumes from here. */
  readonly lastSeq: number | undefined;
  /** Ends the stream; `done` resolves. */
  close(): void;
  /**
   * Resolves when the stream is closed by `close()` or the signal. Rejects when the server
   * refuses the stream (token, filters), when the first connection fails, or when `onEvent`
   * throws; a dropped connection after that is reconnected instead.
   */
  readonly done: Promise<void>;
}

const PATTERN = new RegExp(EVENT_TYPE_PATTERN);
const DEFAULT_DELAYS = { initial: 250, max: 10_000 };
const FATAL_CLOSE_CODES: readonly number[] = [
  EVENT_STREAM_CLOSE_CODES.BAD_MESSAGE,
  EVENT_STREAM_CLOSE_CODES.UNAUTHENTICATED,
];

/** Refuses a pattern the server would refuse, before connecting: a bad filter is not retried. */
function checkTypes(types: readonly string[]): void {
  if (types.length > MAX_EVENT_TYPE_PATTERNS) {
    throw new NovaCronError('VALIDATION_FAILED', `at most ${MAX_EVENT_TYPE_PATTERNS} event types`);
  }
  const all: readonly string[] = [...EVENT_TYPES, ...LIVE_EVENT_TYPES];
  for (const pattern of types) {
    const known =
      PATTERN.test(pattern) &&
      all.some((type) =>
        pattern === '*'
          ? true
          : pattern.endsWith('.*')
            ? type.startsWith(pattern.slice(0, -1))
            : type === pattern,
      );
    if (!known) {
      throw new NovaCronError(
        'VALIDATION_FAILED',
        `'${pattern.slice(0, 64)}' matches no event type (${all.join(', ')}, a prefix such as vm.*, or *)`,
        { pattern: pattern.slice(0, 64) },
      );
    }
  }
}

/** `http://host:8090` -> `ws://host:8090/api/v1/events?...`. */
export function eventsUrl(
  baseUrl: string,
  query: { types?: readonly string[]; since?: number; project?: string },
): string {
  const url = new URL(`${baseUrl.replace(/\/+$/, '')}/api/v1/events`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (query.types !== undefined && query.types.length > 0) {
    url.searchParams.set('types', query.types.join(','));
  }
  if (query.since !== undefined) url.searchParams.set('since', String(query.since));
  if (query.project !== undefined) url.searchParams.set('project', query.project);
  return url.href;
}

function apiError(error: { code?: unknown; message?: unknown; details?: unknown }): NovaCronError {
  const code = typeof error.code === 'string' ? error.code : 'INTERNAL';
  let status = 500;
  try {
    status = httpStatusOf(code as ErrorCode) ?? 500;
  } catch {
    // A code this client does not know yet.
  }
  return new NovaCronApiError(
    status,
    code,
    typeof error.message === 'string' ? error.message : 'the event stream failed',
    typeof error.details === 'object' && error.details !== null
      ? (error.details as Record<string, unknown>)
      : {},
  );
}

/**
 * Opens the event stream of the server at `baseUrl` (GET /api/v1/events): authenticates with the
 * first message (never in the URL), and reconnects after a drop, resuming after the last seq
 * delivered, so `onEvent` sees every event once, in order.
 */
export function openEventStream(
  options: EventStreamOptions & { baseUrl: string; token: string | undefined },
): EventStream {
  const { baseUrl, token, onEvent } = options;
  if (token === undefined || token === '') {
    throw new NovaCronError('UNAUTHENTICATED', 'the event stream needs a token');
  }
  const types = options.types ?? [];
  checkTypes(types);
  const Socket =
    options.WebSocket ??
    (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ??
    undefined;
  if (Socket === undefined) {
    throw new NovaCronError(
      'WEBSOCKET_UNAVAILABLE',
      'this runtime has no WebSocket: pass one as the WebSocket option (in Node, the ws package)',
    );
  }
  const delays = options.reconnectDelayMs ?? DEFAULT_DELAYS;

  let lastSeq = options.since;
  let socket: WebSocketLike | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  let everSubscribed = false;
  let finished = false;
  let resolveDone: () => void = () => undefined;
  let rejectDone: (error: unknown) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // A caller that only uses close() must not get an unhandled rejection; awaiting still throws.
  done.catch(() => undefined);

  const finish = (error?: unknown) => {
    if (finished) return;
    finished = true;
    if (timer !== undefined) clearTimeout(timer);
    options.signal?.removeEventListener('abort', close);
    const open = socket;
    socket = undefined;
    if (open !== undefined && open.readyState <= 1) open.close(1000, 'closed by the client');
    if (error === undefined) resolveDone();
    else rejectDone(error);
  };

  function close(): void {
    finish();
  }

  const connect = () => {
    let serverError: NovaCronError | undefined;
    let transportError: string | undefined;
    const current = new Socket(
      eventsUrl(baseUrl, {
        types,
        ...(lastSeq === undefined ? {} : { since: lastSeq }),
        ...(options.project === undefined ? {} : { project: options.project }),
      }),
    );
    socket = current;
    current.onopen = () => current.send(JSON.stringify({ type: 'auth', token }));
    current.onmessage = (event: { data: unknown }) => {
      if (finished || socket !== current) return;
      let frame: EventStreamServerMessage;
      try {
        frame = JSON.parse(String(event.data)) as EventStreamServerMessage;
      } catch {
        return;
      }
      if ('seq' in frame) {
        // After a reconnect the server starts after lastSeq; the check keeps that promise here too.
        if (lastSeq !== undefined && frame.seq <= lastSeq) return;
        lastSeq = frame.seq;
        try {
          onEvent(frame);
        } catch (error) {
          finish(error);
        }
      } else if (frame.type === 'live') {
        try {
          options.onLive?.(frame.event, { dropped: frame.dropped });
        } catch (error) {
          finish(error);
        }
      } else if (frame.type === 'subscribed') {
        everSubscribed = true;
        attempt = 0;
        lastSeq ??= frame.since;
      } else if (frame.type === 'error') {
        serverError = apiError(frame.error);
      }
    };
    current.onerror = (event: { message?: unknown }) => {
      if (typeof event.message === 'string') transportError = event.message;
    };
    current.onclose = (event: { code: number; reason: string }) => {
      if (finished || socket !== current) return;
      socket = undefined;
      if (FATAL_CLOSE_CODES.includes(event.code)) {
        finish(serverError ?? new NovaCronError('UNAUTHENTICATED', event.reason || 'refused'));
        return;
      }
      const reason =
        serverError?.message ??
        transportError ??
        (event.reason || `connection closed (code ${event.code})`);
      if (!everSubscribed) {
        finish(serverError ?? new NovaCronConnectionError(baseUrl, reason));
        return;
      }
      const delayMs = Math.min(delays.max, delays.initial * 2 ** attempt);
      attempt += 1;
      options.onReconnect?.({ attempt, delayMs, reason });
      timer = setTimeout(() => {
        timer = undefined;
        if (!finished) connect();
      }, delayMs);
    };
  };

  if (options.signal?.aborted) {
    finish();
  } else {
    options.signal?.addEventListener('abort', close);
    connect();
  }

  return {
    get lastSeq() {
      return lastSeq;
    },
    close,
    done,
  };
}
