import {
  EVENT_STREAM_CLOSE_CODES,
  EVENT_TYPES,
  type ErrorBody,
  type Event,
  type EventStreamLive,
  type EventStreamSubscribed,
  type EventType,
  type LiveEvent,
  type LiveEventType,
} from '@novacron/api';
import { DomainError, isDomainError } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';

/** Where a session writes: a WebSocket in the server, a recorder in unit tests. */
export interface EventSink {
  /** Queues one text frame; `done` runs once it has been handed to the socket. */
  send(frame: string, done: (error?: Error | null) => void): void;
  /** Bytes queued and not yet handed to the socket. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
}

/** The part of the store a session reads. */
export type EventSource = Pick<Store, 'events' | 'onEvent'>;

/** Where live events come from (the server's LiveEvents bus). */
export interface LiveEventSource {
  subscribe(listener: (event: LiveEvent) => void): () => void;
}

export interface Subscription {
  types: readonly EventType[];
  /** Live types, sent once the replay is done; none when absent. */
  live?: readonly LiveEventType[];
  /** Replay stored events after this seq first; undefined = only what happens from now on. */
  since: number | undefined;
  project: string | undefined;
  /** What the caller may see (its projects); everything when absent. */
  visible?: (event: { type: string; project: string | null }) => boolean;
}

export interface EventSessionLimits {
  /** Events read from the store per replay query. */
  pageSize: number;
  /** Bytes a client may leave unread before it is disconnected as too slow. */
  maxBufferedBytes: number;
  /** Live events held while a replay runs; past it they are dropped and read from the store. */
  maxPendingEvents: number;
  /**
   * Unsent bytes past which a live (unstored) event is dropped rather than queued. Well under
   * maxBufferedBytes, so live traffic alone never gets a reader disconnected.
   */
  maxLiveBufferedBytes: number;
}

export const DEFAULT_SESSION_LIMITS: EventSessionLimits = {
  pageSize: 500,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxPendingEvents: 10_000,
  maxLiveBufferedBytes: 256 * 1024,
};

/**
 * One subscriber's stream: stored events after `since`, then live ones, with no gap and no
 * duplicate at the seam. The live listener is attached before the replay reads the store, so an
 * event committed meanwhile is in the buffer, in the store, or both; seq numbers sort it out.
 */
export class EventStreamSession {
  #generation = 0;
  #unsubscribe: (() => void) | undefined;
  #unsubscribeLive: (() => void) | undefined;
  #lastSent = 0;
  #droppedLive = 0;
  #closed = false;
  private readonly limits: EventSessionLimits;

  constructor(
    private readonly source: EventSource,
    private readonly sink: EventSink,
    private readonly logger: Logger,
    limits: Partial<EventSessionLimits> = {},
    private readonly liveSource?: LiveEventSource,
  ) {
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...limits };
  }

  /** Live events dropped since the last live frame sent, because the reader was behind. */
  get droppedLive(): number {
    return this.#droppedLive;
  }

  /** The seq of the last event sent: where a new subscription resumes by default. */
  get lastSent(): number {
    return this.#lastSent;
  }

  /** Starts (or restarts) the stream; resolves once the replay is done and the stream is live. */
  async start(subscription: Subscription): Promise<void> {
    this.#detach();
    const generation = ++this.#generation;
    const current = () => generation === this.#generation && !this.#closed;
    const wanted = new Set(subscription.types);
    const { project } = subscription;
    const visible = subscription.visible ?? (() => true);
    const matches = (event: Event) =>
      wanted.has(event.type) &&
      (project === undefined || event.project === project) &&
      visible(event);

    let live = false;
    let pending: Event[] = [];
    // Bumped when the pending buffer overflows: the dropped events are in the store, so the
    // replay must read again until a query that began after the overflow comes back short.
    let overflows = 0;
    this.#unsubscribe = this.source.onEvent((events) => {
      for (const event of events) {
        if (!matches(event)) continue;
        if (live) {
          this.#sendLive(event);
        } else if (pending.push(event) > this.limits.maxPendingEvents) {
          pending = [];
          overflows += 1;
        }
      }
    });

    try {
      const newest = await this.source.events.lastSeq();
      if (!current()) return;
      if (subscription.since !== undefined && subscription.since > newest) {
        throw new DomainError(
          'VALIDATION_FAILED',
          `since ${subscription.since} is past the newest event (${newest}); the store was reset or the seq is not from this server`,
          { since: subscription.since, lastSeq: newest },
        );
      }
      let last = subscription.since ?? newest;
      const liveTypes = new Set(this.liveSource === undefined ? [] : (subscription.live ?? []));
      const subscribed: EventStreamSubscribed = {
        type: 'subscribed',
        types: [...subscription.types],
        live: [...liveTypes],
        since: last,
        project: project ?? null,
      };
      await this.#send(JSON.stringify(subscribed));
      const allTypes = subscription.types.length === EVENT_TYPES.length;

      // A subscription to live types only has nothing to replay.
      for (let more = subscription.types.length > 0; more;) {
        const overflowsBefore = overflows;
        const page = await this.source.events.list({
          since: last,
          limit: this.limits.pageSize,
          ...(allTypes ? {} : { types: subscription.types }),
          ...(project === undefined ? {} : { project }),
        });
        if (!current()) return;
        let flushed: Promise<void> | undefined;
        for (const event of page) {
          if (visible(event)) flushed = this.#send(JSON.stringify(event));
          last = event.seq;
          this.#lastSent = last;
        }
        // Waiting for the socket to take each page keeps a slow reader's replay out of memory.
        if (flushed !== undefined) await flushed;
        if (!current()) return;
        more = page.length >= this.limits.pageSize || overflows !== overflowsBefore;
      }

      for (const event of pending) {
        if (event.seq <= last || !visible(event)) continue;
        this.#sendFrame(JSON.stringify(event));
        last = event.seq;
      }
      pending = [];
      this.#lastSent = last;
      live = true;
      this.#checkBacklog();
      // Live events are not replayed: they start once the stored ones have caught up.
      if (liveTypes.size > 0 && current()) {
        this.#unsubscribeLive = this.liveSource?.subscribe((event) => {
          if (
            liveTypes.has(event.type) &&
            (project === undefined || event.project === project) &&
            visible(event)
          ) {
            this.#sendLiveEvent(event);
          }
        });
      }
    } catch (error) {
      if (!current()) return;
      this.#fail(error);
    }
  }

  /** Stops listening; the sink is the caller's to close. */
  close(): void {
    this.#closed = true;
    this.#detach();
  }

  #detach(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#unsubscribeLive?.();
    this.#unsubscribeLive = undefined;
  }

  /**
   * A live event is dropped, never queued, while the reader is behind: it cannot be replayed, and
   * queueing it would grow without bound and end in a SLOW_CONSUMER close that stored events
   * alone would not have caused. The next live frame says how many were dropped.
   */
  #sendLiveEvent(event: LiveEvent): void {
    if (this.#closed) return;
    if (this.sink.bufferedAmount > this.limits.maxLiveBufferedBytes) {
      this.#droppedLive += 1;
      return;
    }
    const frame: EventStreamLive = { type: 'live', event, dropped: this.#droppedLive };
    this.#droppedLive = 0;
    this.#sendFrame(JSON.stringify(frame));
  }

  #sendLive(event: Event): void {
    if (event.seq <= this.#lastSent) return;
    this.#sendFrame(JSON.stringify(event));
    this.#lastSent = event.seq;
    this.#checkBacklog();
  }

  #sendFrame(frame: string): void {
    this.sink.send(frame, () => undefined);
  }

  /** Resolves once the socket took the frame; a socket that is gone ends the session quietly. */
  #send(frame: string): Promise<void> {
    return new Promise((resolve) => {
      this.sink.send(frame, (error) => {
        // ws passes null or undefined for success, depending on the path the write took.
        if (error) this.close();
        resolve();
      });
    });
  }

  #checkBacklog(): void {
    const buffered = this.sink.bufferedAmount;
    if (buffered <= this.limits.maxBufferedBytes || this.#closed) return;
    this.logger.warn({ buffered, lastSent: this.#lastSent }, 'event stream reader too slow');
    this.close();
    // The reason fits the 123 bytes a close frame allows.
    this.sink.close(
      EVENT_STREAM_CLOSE_CODES.SLOW_CONSUMER,
      closeReason(
        `SLOW_CONSUMER: more than ${Math.round(this.limits.maxBufferedBytes / 1024)} KiB unread; reconnect with since`,
      ),
    );
  }

  #fail(error: unknown): void {
    this.close();
    const known = isDomainError(error);
    if (!known) this.logger.error({ err: error }, 'event stream failed');
    const body: ErrorBody['error'] = known
      ? { code: error.code, message: error.message, details: error.details }
      : { code: 'INTERNAL', message: 'the event stream failed; reconnect with since' };
    this.sink.send(JSON.stringify({ type: 'error', error: body }), () => undefined);
    this.sink.close(
      known ? EVENT_STREAM_CLOSE_CODES.BAD_MESSAGE : 1011,
      closeReason(`${body.code}: ${body.message}`),
    );
  }
}

/** A close frame carries at most 123 bytes of reason. */
export function closeReason(text: string): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= 123) return text;
  // Cut on a character boundary: decoding a cut sequence would add a replacement character.
  let end = 120;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return `${bytes.subarray(0, end).toString()}...`;
}
