import { Type, type Static } from 'typebox';
import { ErrorDetail } from './errors.js';
import { IdOrName, ListQuery, Page, Timestamp } from './common.js';

export const OPERATION_STATUSES = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];
export const OperationStatus = Type.Enum(OPERATION_STATUSES);

export const OPERATION_KINDS = [
  'vm.create',
  'vm.start',
  'vm.stop',
  'vm.reboot',
  'vm.pause',
  'vm.resume',
  'vm.delete',
  'vm.migrate',
  'vm.resize',
  'vm.device.add',
  'vm.device.remove',
  'image.import',
  'host.drain',
  'vm.snapshot',
  'vm.snapshot.revert',
  'vm.snapshot.delete',
  'vm.clone',
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];
export const OperationKind = Type.Enum(OPERATION_KINDS);

/** Long-running work (Incus style): answered with 202, followed by polling, waiting or events. */
export const Operation = Type.Object({
  id: Type.String(),
  kind: OperationKind,
  status: OperationStatus,
  /** The step the operation is in, recorded so that a restarted server can resume or roll back. */
  phase: Type.String(),
  /** Percent done, 0 to 100, as measured by the step that reports it. */
  progress: Type.Number({ minimum: 0, maximum: 100 }),
  target: Type.Object({
    type: Type.Enum(['vm', 'image', 'host']),
    id: Type.String(),
    name: Type.String(),
  }),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  /**
   * What the running work has decided so far (Incus's operation metadata), e.g. a migration's
   * source, target and strategy; a restarted server acts on it. Null when there is none.
   */
  metadata: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  error: Type.Union([ErrorDetail, Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Operation = Static<typeof Operation>;

export const TERMINAL_OPERATION_STATUSES: readonly OperationStatus[] = [
  'succeeded',
  'failed',
  'cancelled',
];

export const OperationListQuery = Type.Object({
  ...ListQuery.properties,
  status: Type.Optional(OperationStatus),
  kind: Type.Optional(OperationKind),
  /** Id or name of the operation's target. */
  target: Type.Optional(IdOrName),
});
export type OperationListQuery = Static<typeof OperationListQuery>;

/** Newest first. */
export const OperationPage = Page(Operation);
export type OperationPage = Static<typeof OperationPage>;

export const OperationWaitQuery = Type.Object({
  timeout: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
});
export type OperationWaitQuery = Static<typeof OperationWaitQuery>;
