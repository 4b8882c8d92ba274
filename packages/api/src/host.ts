import { Type, type Static } from 'typebox';
import { Labels, LabelsPatch, Page, Timestamp } from './common.js';

export const HOST_STATES = ['ready', 'unreachable', 'disabled'] as const;
export type HostState = (typeof HOST_STATES)[number];
export const HostState = Type.Enum(HOST_STATES);

export const Accelerator = Type.Union([Type.Literal('kvm'), Type.Literal('tcg')]);
export type Accelerator = Static<typeof Accelerator>;

export const Host = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** Base URL of the host's agent API. */
  agentUrl: Type.String(),
  state: HostState,
  cpus: Type.Integer(),
  memoryMiB: Type.Integer(),
  /** The accelerator the agent chose by booting a probe guest, and why. */
  accelerator: Type.Union([Accelerator, Type.Null()]),
  acceleratorReason: Type.String(),
  qemuVersion: Type.String(),
  labels: Labels,
  /** A cordoned host keeps its VMs but takes no new ones; a disabled one shows state `disabled`. */
  cordoned: Type.Boolean(),
  /** A drained host: it takes no new VMs until uncordoned. */
  maintenance: Type.Boolean(),
  lastHeartbeatAt: Type.Union([Timestamp, Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Host = Static<typeof Host>;

/** What an operator may change on a host. `labels` merges: a string sets a key, null removes it. */
export const HostPatch = Type.Object(
  {
    labels: Type.Optional(LabelsPatch),
    /** False takes the host out of placement and shows it `disabled`; its VMs stay. */
    enabled: Type.Optional(Type.Boolean()),
    /** True keeps the host's VMs but places no new ones on it. */
    cordoned: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type HostPatch = Static<typeof HostPatch>;

export const HostPage = Page(Host);
export type HostPage = Static<typeof HostPage>;
