import { Type, type Static } from 'typebox';
import { Labels, Name } from './common.js';

/**
 * How the scheduler ranks the hosts that fit (docs/adr/0019-scheduler.md): `binpack` fills hosts
 * up, `spread` empties them evenly, `balanced` keeps CPU and memory use alike, `round-robin` takes
 * hosts in turn, `load-aware` prefers hosts whose agents measure the least use.
 */
export const SCHEDULER_POLICIES = [
  'binpack',
  'spread',
  'balanced',
  'round-robin',
  'load-aware',
] as const;
export type SchedulerPolicy = (typeof SCHEDULER_POLICIES)[number];
export const SchedulerPolicy = Type.Enum(SCHEDULER_POLICIES);

/** `hard`: a host that breaks the rule is never chosen; `soft`: it scores lower. */
export const ConstraintStrength = Type.Union([Type.Literal('hard'), Type.Literal('soft')]);
export type ConstraintStrength = Static<typeof ConstraintStrength>;

/**
 * Where a VM may go and how its host is chosen. A group is a name within the VM's project; its
 * members' rules bind every later member too (a VM cannot join an anti-affine group with affinity).
 */
export const VmPlacement = Type.Object(
  {
    /** The cluster's policy when absent. */
    policy: Type.Optional(SchedulerPolicy),
    group: Type.Optional(Name),
    /** Together with the other members of `group`. */
    affinity: Type.Optional(ConstraintStrength),
    /** Apart from the other members of `group`. */
    antiAffinity: Type.Optional(ConstraintStrength),
    /** Host labels the VM's host must carry (e.g. `zone: a`). */
    selector: Type.Optional(Labels),
  },
  { additionalProperties: false },
);
export type VmPlacement = Static<typeof VmPlacement>;
