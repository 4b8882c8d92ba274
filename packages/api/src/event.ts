import { Type, type Static } from 'typebox';
import { Timestamp } from './common.js';

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
