import {
  EVENT_STREAM_CLOSE_CODES,
  EventStreamClientMessage,
  type ErrorCode,
  type EventStreamError,
} from '@novacron/api';
import type { AccessTokens } from '@novacron/auth';
import type { Clock } from '@novacron/domain';
import { isDomainError } from '@novacron/domain';
import type { Logger } from '@novacron/telemetry';
import { Value } from 'typebox/value';
import { selectEventTypes } from './event-types.js';
import {
  closeReason,
  DEFAULT_SESSION_LIMITS,
  EventStreamSession,
  type EventSessionLimits,
  type EventSink,
  type EventSource,
  type LiveEventSource,
  type Subscription,
} from './session.js';

export interface EventStreamOptions extends EventSessionLimits {
  /** How long a new connection has to send its `auth` message. */
  authTimeoutMs: number;
  /** Ping interval; a client that has not answered the previous ping by the next is dropped. */
  heartbeatMs: number;
  /** How long a closing handshake may take before the socket is cut. */
  closeGraceMs: number;
}

export const DEFAULT_EVENT_STREAM_OPTIONS: EventStreamOptions = {
  ...DEFAULT_SESSION_LIMITS,
  authTimeoutMs: 10_000,
  heartbeatMs: 30_000,
  closeGraceMs: 5_000,
};

/** The part of a `ws` WebSocket a connection uses. */
export interface EventSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string, cb: (error?: Error | null) => void): void;
  ping(): void;
  close(code: number, reason: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: unknown, isBinary: boolean) => void): unknown;
  on(event: 'pong' | 'close', listener: () => void): unknown;
}

export interface EventStreamDeps {
  store: EventSource;
  /** Live (unstored) events; without it a stream carries stored events only. */
  live?: LiveEventSource;
  tokens: AccessTokens;
  clock: Clock;
  logger: Logger;
  /**
   * Who a token speaks for, as the events it may see (its projects); without it, any valid
   * access token sees every event.
   */
  authenticate?: (token: string) => Promise<Subscription['visible']>;
}

const OPEN = 1;

/**
 * The server side of one event stream connection: `auth` first, then an optional `subscribe`,
 * then events. Messages are handled one at a time, in order; the stream starts once the messages
 * already received are handled, so `auth` and `subscribe` sent together never let an event of the
 * wrong type through.
 */
export class EventStreamConnection {
  #authenticated = false;
  #closed = false;
  #started = false;
  #alive = true;
  #draining = false;
  readonly #queue: { data: unknown; isBinary: boolean }[] = [];
  readonly #session: EventStreamSession;
  readonly #timers: NodeJS.Timeout[] = [];
  #subscription: Subscription;
  /** Set by the auth message: the events of the caller's projects only. */
  #visible: Subscription['visible'] = () => false;

  constructor(
    private readonly socket: EventSocket,
    private readonly deps: EventStreamDeps,
    initial: Subscription,
    private readonly options: EventStreamOptions = DEFAULT_EVENT_STREAM_OPTIONS,
    private readonly onClosed: () => void = () => undefined,
  ) {
    this.#subscription = initial;
    const sink: EventSink = {
      send: (frame, done) => socket.send(frame, done),
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
      close: (code, reason) => this.close(code, reason),
    };
    this.#session = new EventStreamSession(deps.store, sink, deps.logger, options, deps.live);

    socket.on('message', (data, isBinary) => {
      this.#alive = true;
      this.#queue.push({ data, isBinary });
      if (!this.#draining) void this.#drain();
    });
    socket.on('pong', () => {
      this.#alive = true;
    });
    socket.on('close', () => this.#cleanup());

    const authTimer = setTimeout(() => {
      if (!this.#authenticated) {
        this.fail(
          'UNAUTHENTICATED',
          `no auth message within ${Math.round(options.authTimeoutMs / 1000)} s`,
          EVENT_STREAM_CLOSE_CODES.UNAUTHENTICATED,
        );
      }
    }, options.authTimeoutMs);
    const heartbeat = setInterval(() => {
      if (!this.#alive) {
        deps.logger.info('event stream client stopped answering pings');
        socket.terminate();
        return;
      }
      this.#alive = false;
      if (socket.readyState === OPEN) socket.ping();
    }, options.heartbeatMs);
    this.#timers.push(authTimer, heartbeat);
  }

  /** Sends an error frame, then closes with `closeCode`. */
  fail(code: ErrorCode, message: string, closeCode: number, details: Record<string, unknown> = {}) {
    if (this.#closed) return;
    const frame: EventStreamError = { type: 'error', error: { code, message, details } };
    if (this.socket.readyState === OPEN) this.socket.send(JSON.stringify(frame), () => undefined);
    this.close(closeCode, closeReason(`${code}: ${message}`));
  }

  /** Closes with a handshake, and cuts the socket if the client does not answer in time. */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#cleanup();
    if (this.socket.readyState === OPEN) this.socket.close(code, reason);
    setTimeout(() => this.socket.terminate(), this.options.closeGraceMs).unref();
  }

  #cleanup(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#session.close();
    for (const timer of this.#timers) clearTimeout(timer);
    this.onClosed();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        if (this.#closed) return;
        await this.#handle(next.data, next.isBinary);
      }
    } catch (error) {
      this.deps.logger.error({ err: error }, 'event stream message failed');
      this.fail('INTERNAL', 'internal error', 1011);
    } finally {
      this.#draining = false;
    }
    if (this.#authenticated && !this.#started && !this.#closed) {
      this.#started = true;
      void this.#session.start({ ...this.#subscription, visible: this.#visible });
    }
  }

  async #handle(data: unknown, isBinary: boolean): Promise<void> {
    const parsed = parseMessage(data, isBinary);
    if ('problem' in parsed) {
      this.fail(
        'VALIDATION_FAILED',
        `${parsed.problem}: expected {"type":"auth","token":...} or {"type":"subscribe",...}`,
        EVENT_STREAM_CLOSE_CODES.BAD_MESSAGE,
      );
      return;
    }
    const { message } = parsed;
    if (message.type === 'auth') {
      try {
        if (this.deps.authenticate === undefined) {
          await this.deps.tokens.verify(message.token, this.deps.clock.now());
          this.#visible = () => true;
        } else {
          this.#visible = await this.deps.authenticate(message.token);
        }
      } catch (error) {
        const reason = error instanceof Error ? error.message : 'token invalid';
        this.fail('UNAUTHENTICATED', reason, EVENT_STREAM_CLOSE_CODES.UNAUTHENTICATED);
        return;
      }
      this.#authenticated = true;
      return;
    }
    if (!this.#authenticated) {
      this.fail(
        'UNAUTHENTICATED',
        'the first message must be {"type":"auth","token":"<access token>"}',
        EVENT_STREAM_CLOSE_CODES.UNAUTHENTICATED,
      );
      return;
    }
    let selected;
    try {
      selected = selectEventTypes(message.types);
    } catch (error) {
      if (!isDomainError(error)) throw error;
      this.fail(error.code, error.message, EVENT_STREAM_CLOSE_CODES.BAD_MESSAGE, error.details);
      return;
    }
    const since =
      message.since ?? (this.#started ? this.#session.lastSent : this.#subscription.since);
    this.#subscription = { ...selected, since, project: message.project };
    if (this.#started) void this.#session.start({ ...this.#subscription, visible: this.#visible });
  }
}

function parseMessage(
  data: unknown,
  isBinary: boolean,
): { message: EventStreamClientMessage } | { problem: string } {
  if (isBinary) return { problem: 'a binary frame' };
  const text = Buffer.isBuffer(data)
    ? data.toString('utf8')
    : Array.isArray(data)
      ? Buffer.concat(data as Buffer[]).toString('utf8')
      : data instanceof ArrayBuffer
        ? Buffer.from(data).toString('utf8')
        : undefined;
  if (text === undefined) return { problem: 'an unreadable frame' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  if (Value.Check(EventStreamClientMessage, value)) return { message: value };
  const type = (value as { type?: unknown } | null)?.type;
  return {
    problem:
      type === 'auth' || type === 'subscribe'
        ? `a ${type} message that does not fit its schema`
        : 'an unknown message type',
  };
}
