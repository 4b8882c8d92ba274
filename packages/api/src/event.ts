import { Type, type Static } from 'typebox';
import { Name, Timestamp } from './common.js';
import { ErrorDetail } from './errors.js';

export const EVENT_TYPES = [
  'vm.created',
  'vm.updated',
  'vm.deleted',
  'host.updated',
  'operation.created',
  'operation.updated',
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
  types: Type.Array(EventType),
  since: Type.Integer({ minimum: 0 }),
  project: Type.Union([Type.String(), Type.Null()]),
});
export type EventStreamSubscribed = Static<typeof EventStreamSubscribed>;

/** Sent just before the server closes the stream for a reason the client should show. */
export const EventStreamError = Type.Object({ type: Type.Literal('error'), error: ErrorDetail });
export type EventStreamError = Static<typeof EventStreamError>;

/** What the server sends: an Event (it has a `seq`) or a control frame. */
export const EventStreamServerMessage = Type.Union([
  Event,
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
