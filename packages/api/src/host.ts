import { Type, type Static } from 'typebox';
import { Labels, Page, Timestamp } from './common.js';

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
  lastHeartbeatAt: Type.Union([Timestamp, Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Host = Static<typeof Host>;

export const HostPage = Page(Host);
export type HostPage = Static<typeof HostPage>;
