import { Type, type Static, type TSchema } from 'typebox';
import { Name, Timestamp } from './common.js';
import { ErrorDetail } from './errors.js';
import { HostMetricsSample, VmMetricsSample } from './metrics.js';
import { MigrationProgress } from './migration.js';

export const EVENT_TYPES = [
  'vm.created',
  'vm.updated',
  'vm.deleted',
  'host.updated',
  'operation.created',
  'operation.updated',
  'audit.recorded',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const EventType = Type.Enum(EVENT_TYPES);

/** One change, numbered in commit order so that a reader can resume with `since`. */
export const Event = Type.Object({
  seq: Type.Integer(),
  type: EventType,
  time: Timestamp,
  project: Type.Union([Type.String(), Type.Null()]),
  subject: Type.Object({ kind: Type.String(), id: Type.String() }),
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type Event = Static<typeof Event>;

/**
 * Live event types (docs/adr/0015-live-events.md): measurements and progress, delivered to the
 * subscribers of the moment, never stored, numbered or replayed; a slow reader misses some.
 */
export const LIVE_EVENT_TYPES = ['metrics.sample', 'migration.progress'] as const;
export type LiveEventType = (typeof LIVE_EVENT_TYPES)[number];
export const LiveEventType = Type.Enum(LIVE_EVENT_TYPES);

/** What a live event is about: a VM or a host, by id and by name. */
export const LiveEventSubject = Type.Object({
  kind: Type.Union([Type.Literal('vm'), Type.Literal('host')]),
  id: Type.String(),
  name: Type.String(),
});
export type LiveEventSubject = Static<typeof LiveEventSubject>;

const liveEvent = <T extends LiveEventType, D extends TSchema>(type: T, data: D) =>
  Type.Object({
    type: Type.Literal(type),
    /** When it was measured or reported. */
    at: Timestamp,
    /** The VM's project; null for a host. */
    project: Type.Union([Type.String(), Type.Null()]),
    subject: LiveEventSubject,
    data,
  });

/** A new metrics sample of a VM (`subject.kind` vm) or a host (host). */
export const MetricsSampleEvent = liveEvent(
  'metrics.sample',
  Type.Union([VmMetricsSample, HostMetricsSample]),
);
export type MetricsSampleEvent = Static<typeof MetricsSampleEvent>;

/** Progress of a running live migration; `subject` is the VM. */
export const MigrationProgressEvent = liveEvent('migration.progress', MigrationProgress);
export type MigrationProgressEvent = Static<typeof MigrationProgressEvent>;

export const LiveEvent = Type.Union([MetricsSampleEvent, MigrationProgressEvent]);
export type LiveEvent = Static<typeof LiveEvent>;

// The event stream, GET /api/v1/events (WebSocket, JSON text frames).

/** An event type (`vm.created`), every type of a prefix (`vm.*`), or every type (`*`). */
export const EVENT_TYPE_PATTERN = '^(\\*|[a-z]+\\.\\*|[a-z]+(\\.[a-z_]+)+)$';
export const EventTypePattern = Type.String({ pattern: EVENT_TYPE_PATTERN, maxLength: 64 });

export const MAX_EVENT_TYPE_PATTERNS = 32;

/** Query of the upgrade request; the same filters a `subscribe` message carries. */
export const EventStreamQuery = Type.Object({
  /** Comma-separated patterns, e.g. `vm.*,operation.updated`; all types when absent. */
  types: Type.Optional(Type.String({ maxLength: 1024 })),
  /** Replay the stored events after this seq first; only new events when absent. */
  since: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Only events of this project. */
  project: Type.Optional(Name),
});
export type EventStreamQuery = Static<typeof EventStreamQuery>;

/** The first message a client sends: tokens never travel in a URL. */
export const EventStreamAuth = Type.Object({
  type: Type.Literal('auth'),
  token: Type.String({ minLength: 1, maxLength: 8192 }),
});
export type EventStreamAuth = Static<typeof EventStreamAuth>;

/** Replaces the subscription; the stream restarts after `since` (default: the last seq sent). */
export const EventStreamSubscribe = Type.Object({
  type: Type.Literal('subscribe'),
  types: Type.Optional(Type.Array(EventTypePattern, { maxItems: MAX_EVENT_TYPE_PATTERNS })),
  since: Type.Optional(Type.Integer({ minimum: 0 })),
  project: Type.Optional(Name),
});
export type EventStreamSubscribe = Static<typeof EventStreamSubscribe>;

export const EventStreamClientMessage = Type.Union([EventStreamAuth, EventStreamSubscribe]);
export type EventStreamClientMessage = Static<typeof EventStreamClientMessage>;

/** Sent when a subscription starts, before its first event: what the stream carries. */
export const EventStreamSubscribed = Type.Object({
  type: Type.Literal('subscribed'),
  /** The stored event types, replayed after `since`. */
  types: Type.Array(EventType),
  /** The live event types, sent once the replay is done; absent from older servers. */
  live: Type.Optional(Type.Array(LiveEventType)),
  since: Type.Integer({ minimum: 0 }),
  project: Type.Union([Type.String(), Type.Null()]),
});
export type EventStreamSubscribed = Static<typeof EventStreamSubscribed>;

/** Sent just before the server closes the stream for a reason the client should show. */
export const EventStreamError = Type.Object({ type: Type.Literal('error'), error: ErrorDetail });
export type EventStreamError = Static<typeof EventStreamError>;

/**
 * A live event. `dropped` counts the live events of this subscription the server dropped since the
 * previous live frame because the reader was behind; stored events are never dropped.
 */
export const EventStreamLive = Type.Object({
  type: Type.Literal('live'),
  event: LiveEvent,
  dropped: Type.Integer({ minimum: 0 }),
});
export type EventStreamLive = Static<typeof EventStreamLive>;

/** What the server sends: an Event (it has a `seq`), a live event, or a control frame. */
export const EventStreamServerMessage = Type.Union([
  Event,
  EventStreamLive,
  EventStreamSubscribed,
  EventStreamError,
]);
export type EventStreamServerMessage = Static<typeof EventStreamServerMessage>;

/**
 * WebSocket close codes of the event stream (RFC 6455 leaves 4000-4999 to applications). A client
 * reconnects after GOING_AWAY and SLOW_CONSUMER; after the others, reconnecting would fail again.
 */
export const EVENT_STREAM_CLOSE_CODES = {
  /** The server is shutting down (RFC 6455). */
  GOING_AWAY: 1001,
  /** A message that is not valid JSON or not one of the client messages. */
  BAD_MESSAGE: 4400,
  /** No valid `auth` message first, an expired or forged token, or a token in the URL. */
  UNAUTHENTICATED: 4401,
  /** The client read too slowly; resume with `since`. */
  SLOW_CONSUMER: 4429,
} as const;
