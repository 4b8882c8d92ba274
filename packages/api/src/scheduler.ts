import { Type, type Static } from 'typebox';
import { IdOrName, Name } from './common.js';
import { SchedulerPolicy, VmPlacement } from './placement.js';
import { MAX_VM_CPUS, MAX_VM_DISK_GIB, MAX_VM_MEMORY_MIB } from './vm.js';

/** POST /api/v1/scheduler/explain: what a create of this size and placement would do. */
export const SchedulerExplainRequest = Type.Object(
  {
    project: Type.Optional(Name),
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_VM_CPUS })),
    memoryMiB: Type.Optional(Type.Integer({ minimum: 16, maximum: MAX_VM_MEMORY_MIB })),
    diskGiB: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_VM_DISK_GIB })),
    /** Only this host. */
    host: Type.Optional(IdOrName),
    placement: Type.Optional(VmPlacement),
  },
  { additionalProperties: false },
);
export type SchedulerExplainRequest = Static<typeof SchedulerExplainRequest>;

export const SchedulerRemoval = Type.Object({ host: Type.String(), reason: Type.String() });
export type SchedulerRemoval = Static<typeof SchedulerRemoval>;

/** One filter and the hosts it removed (each host is removed by the first filter it fails). */
export const SchedulerFilterResult = Type.Object({
  filter: Type.String(),
  removed: Type.Array(SchedulerRemoval),
});
export type SchedulerFilterResult = Static<typeof SchedulerFilterResult>;

export const SchedulerCandidate = Type.Object({
  host: Type.String(),
  /** The weighted mean of `scores`, 0..1. */
  score: Type.Number(),
  /** Each scorer's value, 0..1, and the weight the policy gives it. */
  scores: Type.Record(Type.String(), Type.Object({ value: Type.Number(), weight: Type.Number() })),
});
export type SchedulerCandidate = Static<typeof SchedulerCandidate>;

/** Why a VM goes where it goes, or why it fits nowhere. */
export const SchedulerExplanation = Type.Object({
  policy: SchedulerPolicy,
  hosts: Type.Integer(),
  filters: Type.Array(SchedulerFilterResult),
  /** Every host that fits, best first. */
  candidates: Type.Array(SchedulerCandidate),
  /** The host the scheduler picks; null when none fits. */
  chosen: Type.Union([Type.String(), Type.Null()]),
  /** One line, also recorded on the create operation. */
  reason: Type.String(),
});
export type SchedulerExplanation = Static<typeof SchedulerExplanation>;
