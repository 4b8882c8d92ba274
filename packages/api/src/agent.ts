import { Type, type Static } from 'typebox';
import { AgentCloudInit } from './cloud-init.js';
import { VmHardware } from './hardware.js';
import { Accelerator } from './host.js';
import { ImageKind } from './image.js';
import { StoragePool, VmDesiredState, VmState } from './vm.js';

// The agent API: what the server asks of a host. Small and idempotent (ARCHITECTURE.md §4).

export const AgentVmSpec = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 64 }),
  name: Type.String(),
  cpus: Type.Integer({ minimum: 1 }),
  memoryMiB: Type.Integer({ minimum: 16 }),
  diskGiB: Type.Integer({ minimum: 1 }),
  image: Type.Object({
    id: Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 64 }),
    name: Type.String(),
    kind: ImageKind,
    sha256: Type.String(),
    defaultKernelArgs: Type.String(),
  }),
  kernelArgs: Type.String(),
  /** Versioned machine type fixed at creation, so that migration stays compatible. */
  machineType: Type.String(),
  desiredState: VmDesiredState,
  /**
   * Where the VM's disk lives: the host's own directory pool, or the shared pool every host of
   * the cluster mounts (live migration then moves only memory). Absent means local.
   */
  pool: Type.Optional(StoragePool),
  /** Headroom, live-added CPUs and DIMMs, data disks, extra NICs (ADR 23); absent: none. */
  hardware: Type.Optional(VmHardware),
  /** The VM's cloud-init seed, written by the host and attached as a CD-ROM; absent: none. */
  cloudInit: Type.Optional(AgentCloudInit),
});
export type AgentVmSpec = Static<typeof AgentVmSpec>;

/** What the agent observes of one VM. */
export const AgentVmStatus = Type.Object({
  id: Type.String(),
  state: VmState,
  pid: Type.Union([Type.Integer(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
});
export type AgentVmStatus = Static<typeof AgentVmStatus>;

export const AgentVmStateChange = Type.Object(
  {
    action: Type.Union([
      Type.Literal('start'),
      Type.Literal('stop'),
      Type.Literal('reboot'),
      Type.Literal('pause'),
      Type.Literal('resume'),
    ]),
    force: Type.Optional(Type.Boolean()),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
  },
  { additionalProperties: false },
);
export type AgentVmStateChange = Static<typeof AgentVmStateChange>;

/** `DELETE /v1/vms/{id}?keepDisks=true`: the disk is moved aside instead of removed. */
export const AgentVmDeleteQuery = Type.Object({ keepDisks: Type.Optional(Type.Boolean()) });
export type AgentVmDeleteQuery = Static<typeof AgentVmDeleteQuery>;

/** A disk a delete kept; `backingFile` is the base image it still reads from, if any. */
export const KeptDisk = Type.Object({
  path: Type.String(),
  backingFile: Type.Union([Type.String(), Type.Null()]),
});
export type KeptDisk = Static<typeof KeptDisk>;

/** The answer to a delete with keepDisks. */
export const AgentVmDeleted = Type.Object({ keptDisks: Type.Array(KeptDisk) });
export type AgentVmDeleted = Static<typeof AgentVmDeleted>;

/** The host's VM network: a bridge with DHCP, or why there is none (VMs then have no NIC). */
export const AgentHostNetwork = Type.Object({
  enabled: Type.Boolean(),
  bridge: Type.String(),
  /** The bridge's own address with its prefix length, e.g. 10.78.0.1/24. */
  address: Type.Optional(Type.String()),
  nat: Type.Boolean(),
  /** Why VMs get no NIC (the network is off, or the host lacks what it needs). */
  reason: Type.Optional(Type.String()),
});
export type AgentHostNetwork = Static<typeof AgentHostNetwork>;

export const AgentHostInfo = Type.Object({
  name: Type.String(),
  cpus: Type.Integer(),
  memoryMiB: Type.Integer(),
  accelerator: Accelerator,
  acceleratorReason: Type.String(),
  qemuVersion: Type.String(),
  /** Whether the host mounts the cluster's shared pool (VMs there migrate without their disk). */
  sharedPool: Type.Optional(Type.Boolean()),
  network: Type.Optional(AgentHostNetwork),
});
export type AgentHostInfo = Static<typeof AgentHostInfo>;
