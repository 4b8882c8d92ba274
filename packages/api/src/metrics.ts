import { Type, type Static } from 'typebox';
import { Timestamp } from './common.js';

/**
 * Disk counters of a VM, summed over its block devices (QMP `query-blockstats`); they count
 * from the QEMU process start.
 */
export const VmDiskCounters = Type.Object({
  readBytes: Type.Integer({ minimum: 0 }),
  writtenBytes: Type.Integer({ minimum: 0 }),
  readOps: Type.Integer({ minimum: 0 }),
  writeOps: Type.Integer({ minimum: 0 }),
});
export type VmDiskCounters = Static<typeof VmDiskCounters>;

/**
 * Counters of a VM's NIC as the guest sees them (received = sent to the guest), read from its
 * tap device on the host; they count from the tap's creation, which is each QEMU start.
 */
export const VmNicCounters = Type.Object({
  rxBytes: Type.Integer({ minimum: 0 }),
  txBytes: Type.Integer({ minimum: 0 }),
  rxPackets: Type.Integer({ minimum: 0 }),
  txPackets: Type.Integer({ minimum: 0 }),
});
export type VmNicCounters = Static<typeof VmNicCounters>;

/**
 * One measurement of a running VM. A value that could not be read is absent, never zero: a
 * CPU % needs two samples of the same QEMU process, so the first sample has none.
 */
export const VmMetricsSample = Type.Object({
  vmId: Type.String(),
  at: Timestamp,
  /** CPU time of the QEMU process (user + system) since it started. */
  cpuSeconds: Type.Optional(Type.Number({ minimum: 0 })),
  /** CPU time over the last interval, as % of one core (a 2-vCPU guest may reach 200). */
  cpuPercent: Type.Optional(Type.Number({ minimum: 0 })),
  /** Resident memory of the QEMU process. */
  rssBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  /** The guest's configured memory. */
  memoryBytes: Type.Integer({ minimum: 0 }),
  disk: Type.Optional(VmDiskCounters),
  nic: Type.Optional(VmNicCounters),
  /** Why there are no NIC counters (the VM has no NIC: its host has no VM network). */
  nicAbsentReason: Type.Optional(Type.String()),
});
export type VmMetricsSample = Static<typeof VmMetricsSample>;

/** One measurement of the host the agent runs on. */
export const HostMetricsSample = Type.Object({
  at: Timestamp,
  /** All cores busy over the last interval, 0..100; absent on the first sample. */
  cpuPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  memoryUsedBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  memoryTotalBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  load1: Type.Number({ minimum: 0 }),
  load5: Type.Number({ minimum: 0 }),
  load15: Type.Number({ minimum: 0 }),
  /** The filesystem of the agent's data directory. */
  diskUsedBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  diskFreeBytes: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type HostMetricsSample = Static<typeof HostMetricsSample>;

/** The latest measurement an agent sends with its heartbeat (absent from older agents). */
export const HeartbeatMetrics = Type.Object({
  host: HostMetricsSample,
  vms: Type.Array(VmMetricsSample, { maxItems: 10_000 }),
});
export type HeartbeatMetrics = Static<typeof HeartbeatMetrics>;

/** `?since=`: only samples taken after this time; default the whole kept window. */
export const MetricsQuery = Type.Object(
  { since: Type.Optional(Timestamp) },
  { additionalProperties: false },
);
export type MetricsQuery = Static<typeof MetricsQuery>;

/** GET /api/v1/vms/{idOrName}/metrics: the VM's recent samples, oldest first. */
export const VmMetricsSeries = Type.Object({
  vmId: Type.String(),
  samples: Type.Array(VmMetricsSample),
});
export type VmMetricsSeries = Static<typeof VmMetricsSeries>;

/** GET /api/v1/hosts/{idOrName}/metrics: the host's recent samples, oldest first. */
export const HostMetricsSeries = Type.Object({
  hostId: Type.String(),
  samples: Type.Array(HostMetricsSample),
});
export type HostMetricsSeries = Static<typeof HostMetricsSeries>;
