import { Type, type Static } from 'typebox';
import { IdOrName } from './common.js';
import { AgentVmSpec } from './agent.js';

// Live migration (ARCHITECTURE.md §4): the user's request, the planner's prediction, the
// progress events, and the agent calls that move one guest from a source host to a target host.

/** What a user asks for; `auto` lets the planner choose from measured dirty rate and bandwidth. */
export const MIGRATION_STRATEGIES = ['auto', 'precopy', 'postcopy', 'autoconverge'] as const;
export type MigrationStrategy = (typeof MIGRATION_STRATEGIES)[number];
export const MigrationStrategy = Type.Enum(MIGRATION_STRATEGIES);

/** A strategy that actually runs (what `auto` resolves to). */
export type ConcreteMigrationStrategy = Exclude<MigrationStrategy, 'auto'>;

export const MIGRATION_COMPRESSIONS = ['none', 'zstd'] as const;
export const MigrationCompression = Type.Enum(MIGRATION_COMPRESSIONS);
export type MigrationCompression = (typeof MIGRATION_COMPRESSIONS)[number];

/** Bounds a migration may take; each falls back to the cluster default when absent. */
export const MigrationLimits = Type.Object({
  /** Bytes per second on the migration stream (QEMU's max-bandwidth). */
  maxBandwidthBytes: Type.Optional(Type.Integer({ minimum: 1024 * 1024, maximum: 2 ** 40 })),
  /** The longest pause of the guest the switch-over may take (QEMU's downtime-limit). */
  maxDowntimeMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000 })),
});
export type MigrationLimits = Static<typeof MigrationLimits>;

/** `POST /api/v1/vms/{id}/migrate` */
export const MigrationRequest = Type.Object(
  {
    /** Target host (id or name); the scheduler picks one when absent. */
    to: Type.Optional(IdOrName),
    strategy: Type.Optional(MigrationStrategy),
    ...MigrationLimits.properties,
    /** Parallel streams (multifd); 0 or absent for one stream. Not with post-copy. */
    multifdChannels: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
    /** multifd compression. Not with post-copy. */
    compression: Type.Optional(MigrationCompression),
    /** XBZRLE delta compression of re-sent pages. Not with post-copy. */
    xbzrle: Type.Optional(Type.Boolean()),
    /** TLS on the migration stream with the cluster's certificates; on unless switched off. */
    tls: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type MigrationRequest = Static<typeof MigrationRequest>;

/** `POST /api/v1/vms/{id}/migrate/plan` */
export const MigrationPlanRequest = Type.Object(
  {
    to: Type.Optional(IdOrName),
    ...MigrationLimits.properties,
  },
  { additionalProperties: false },
);
export type MigrationPlanRequest = Static<typeof MigrationPlanRequest>;

/** The planner's expectation of one strategy under the given limits. */
export const MigrationPrediction = Type.Object({
  strategy: Type.Enum(['precopy', 'postcopy', 'autoconverge'] as const),
  /** False when the strategy is predicted never to finish within the limits (pre-copy outrun). */
  converges: Type.Boolean(),
  totalTimeMs: Type.Union([Type.Number(), Type.Null()]),
  downtimeMs: Type.Union([Type.Number(), Type.Null()]),
  /** One line: why this prediction (e.g. "dirty rate 61 MiB/s exceeds 32 MiB/s link"). */
  reason: Type.String(),
});
export type MigrationPrediction = Static<typeof MigrationPrediction>;

/** What the planner measured and predicted. */
export const MigrationPlan = Type.Object({
  vm: Type.String(),
  from: Type.String(),
  to: Type.String(),
  memoryBytes: Type.Integer(),
  /** Measured with calc-dirty-rate on the running guest. */
  dirtyRateBytes: Type.Number(),
  /** The link's bandwidth used for the prediction: the limit, or the measured/known link. */
  bandwidthBytes: Type.Number(),
  maxDowntimeMs: Type.Integer(),
  predictions: Type.Array(MigrationPrediction),
  /**
   * Shared-nothing migration (a disk in the source's local pool): what the disk phase copies
   * before memory moves, measured on the source. Null when the disk is on the shared pool.
   */
  disk: Type.Optional(
    Type.Union([
      Type.Object({
        /** Bytes allocated in the VM's own overlay (the base image is already on the target). */
        allocatedBytes: Type.Number(),
        /** At the bandwidth used for the prediction. */
        predictedMs: Type.Number(),
      }),
      Type.Null(),
    ]),
  ),
  /** What `auto` would choose. */
  chosen: Type.Enum(['precopy', 'postcopy', 'autoconverge'] as const),
  planningTimeMs: Type.Number(),
});
export type MigrationPlan = Static<typeof MigrationPlan>;

/** QEMU's own migration status (query-migrate), as reported by an agent. */
export const QEMU_MIGRATION_STATUSES = [
  'none',
  'setup',
  'cancelling',
  'cancelled',
  'active',
  'postcopy-active',
  'postcopy-paused',
  'postcopy-recover',
  'completed',
  'failed',
  'colo',
  'pre-switchover',
  'device',
  'wait-unplug',
] as const;
export const QemuMigrationStatus = Type.Enum(QEMU_MIGRATION_STATUSES);
export type QemuMigrationStatus = (typeof QEMU_MIGRATION_STATUSES)[number];

/** The disk mirror of a shared-nothing migration on the source (QEMU's query-jobs). */
export const AgentMirrorStatus = Type.Object({
  /** QEMU's job status: running, ready (in sync), concluded... */
  status: Type.String(),
  ready: Type.Boolean(),
  doneBytes: Type.Number(),
  totalBytes: Type.Number(),
  /** Why the job failed (e.g. the target's disk is full). */
  error: Type.Optional(Type.String()),
});
export type AgentMirrorStatus = Static<typeof AgentMirrorStatus>;

/** One reading of query-migrate on a host; absent numbers are ones QEMU did not report. */
export const AgentMigrationStatus = Type.Object({
  /** The disk mirror, on a source that mirrors its local disk to the target. */
  mirror: Type.Optional(AgentMirrorStatus),
  status: QemuMigrationStatus,
  /** QEMU's run state (query-status) at the same moment: running, paused, inmigrate, postmigrate... */
  runState: Type.Optional(Type.String()),
  totalTimeMs: Type.Optional(Type.Number()),
  downtimeMs: Type.Optional(Type.Number()),
  expectedDowntimeMs: Type.Optional(Type.Number()),
  setupTimeMs: Type.Optional(Type.Number()),
  transferredBytes: Type.Optional(Type.Number()),
  remainingBytes: Type.Optional(Type.Number()),
  totalBytes: Type.Optional(Type.Number()),
  /** Bytes per second the guest dirties, as QEMU sees it during pre-copy. */
  dirtyRateBytes: Type.Optional(Type.Number()),
  /** Completed passes over memory (dirty-sync-count). */
  iteration: Type.Optional(Type.Integer()),
  throughputMbps: Type.Optional(Type.Number()),
  cpuThrottlePercent: Type.Optional(Type.Number()),
  postcopyRequests: Type.Optional(Type.Number()),
  /** QEMU's error-desc when status is failed. */
  error: Type.Optional(Type.String()),
});
export type AgentMigrationStatus = Static<typeof AgentMigrationStatus>;

/** Capabilities and parameters both QEMUs get before the stream starts. */
export const AgentMigrationSettings = Type.Object(
  {
    strategy: Type.Enum(['precopy', 'postcopy', 'autoconverge'] as const),
    /** Set postcopy-ram before the start so a later switch is possible (auto may need it). */
    postcopyReady: Type.Boolean(),
    maxBandwidthBytes: Type.Integer({ minimum: 1 }),
    maxDowntimeMs: Type.Integer({ minimum: 1 }),
    multifdChannels: Type.Integer({ minimum: 0, maximum: 16 }),
    compression: MigrationCompression,
    xbzrle: Type.Boolean(),
    tls: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type AgentMigrationSettings = Static<typeof AgentMigrationSettings>;

/** Target: `POST /v1/vms/{id}/migration/incoming` starts a QEMU waiting for the stream. */
export const AgentIncomingRequest = Type.Object(
  { spec: AgentVmSpec, settings: AgentMigrationSettings },
  { additionalProperties: false },
);
export type AgentIncomingRequest = Static<typeof AgentIncomingRequest>;

/** An NBD export of the target's fresh disk (shared-nothing migration), on its cluster address. */
export const AgentNbdExport = Type.Object(
  {
    host: Type.String({ pattern: '^[0-9A-Za-z.:-]+$', maxLength: 255 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    export: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  },
  { additionalProperties: false },
);
export type AgentNbdExport = Static<typeof AgentNbdExport>;

/**
 * Where the target listens, e.g. `tcp:10.77.0.3:49152`, and the name its certificate carries;
 * for a disk in the local pool, the NBD export the source mirrors the disk into.
 */
export const AgentIncomingReply = Type.Object({
  uri: Type.String(),
  tlsHostname: Type.String(),
  nbd: Type.Optional(AgentNbdExport),
});
export type AgentIncomingReply = Static<typeof AgentIncomingReply>;

/** Source: `POST /v1/vms/{id}/migration/outgoing` starts sending; answers once QEMU accepted. */
export const AgentOutgoingRequest = Type.Object(
  {
    uri: Type.String({ pattern: '^tcp:[0-9A-Za-z.:\\[\\]-]+:[0-9]{1,5}$', maxLength: 300 }),
    tlsHostname: Type.String({ maxLength: 255 }),
    settings: AgentMigrationSettings,
  },
  { additionalProperties: false },
);
export type AgentOutgoingRequest = Static<typeof AgentOutgoingRequest>;

/**
 * Source: `POST /v1/vms/{id}/migration/mirror` starts copying the VM's local disk into the
 * target's NBD export (blockdev-mirror, only the VM's own overlay) while the guest runs.
 */
export const AgentMirrorRequest = Type.Object(
  {
    nbd: AgentNbdExport,
    tls: Type.Boolean(),
    tlsHostname: Type.String({ maxLength: 255 }),
  },
  { additionalProperties: false },
);
export type AgentMirrorRequest = Static<typeof AgentMirrorRequest>;

/**
 * Target of a cold migration (a stopped VM's local disk): `POST /v1/vms/{id}/migration/disk`
 * makes a fresh disk and exports it over NBD from a qemu-storage-daemon; answers the export.
 */
export const AgentDiskIncomingRequest = Type.Object(
  { spec: AgentVmSpec, tls: Type.Boolean() },
  { additionalProperties: false },
);
export type AgentDiskIncomingRequest = Static<typeof AgentDiskIncomingRequest>;

/** What one side holds after a cold copy: the bytes allocated in the VM's own overlay. */
export const AgentDiskCopy = Type.Object({
  allocatedBytes: Type.Number(),
  /** Source: the bytes QEMU's mirror copied. */
  copiedBytes: Type.Optional(Type.Number()),
});
export type AgentDiskCopy = Static<typeof AgentDiskCopy>;

/** Source, while running: `PATCH /v1/vms/{id}/migration` tightens or loosens the stream. */
export const AgentMigrationTuning = Type.Object(
  {
    maxBandwidthBytes: Type.Optional(Type.Integer({ minimum: 1 })),
    maxDowntimeMs: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Raise the auto-converge throttle (needs the strategy's capability set at the start). */
    cpuThrottleIncrement: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  { additionalProperties: false },
);
export type AgentMigrationTuning = Static<typeof AgentMigrationTuning>;

/** `POST /v1/vms/{id}/dirty-rate`: calc-dirty-rate over a window, on the running guest. */
export const AgentDirtyRateRequest = Type.Object(
  { seconds: Type.Integer({ minimum: 1, maximum: 60 }) },
  { additionalProperties: false },
);
export type AgentDirtyRateRequest = Static<typeof AgentDirtyRateRequest>;

export const AgentDirtyRateReply = Type.Object({
  dirtyRateBytes: Type.Number(),
  measuredSeconds: Type.Number(),
  /**
   * Guest RAM that holds data (not zero), estimated from pages sampled evenly over the RAM: zero
   * pages migrate for almost nothing. Absent when the agent cannot read it.
   */
  dataBytes: Type.Optional(Type.Number()),
  /** A local-pool disk: bytes allocated in the VM's own overlay (what a mirror copies). */
  diskBytes: Type.Optional(Type.Number()),
});
export type AgentDirtyRateReply = Static<typeof AgentDirtyRateReply>;

/** `migration.progress` (a live event, not stored): one reading of a running migration. */
export const MigrationProgress = Type.Object({
  operation: Type.String(),
  vm: Type.String(),
  from: Type.String(),
  to: Type.String(),
  strategy: Type.Enum(['precopy', 'postcopy', 'autoconverge'] as const),
  phase: Type.String(),
  transferredBytes: Type.Number(),
  remainingBytes: Type.Number(),
  totalBytes: Type.Number(),
  dirtyRateBytes: Type.Number(),
  iteration: Type.Integer(),
  expectedDowntimeMs: Type.Union([Type.Number(), Type.Null()]),
});
export type MigrationProgress = Static<typeof MigrationProgress>;

/** The finished migrate operation's `result`. */
export const MigrationResult = Type.Object({
  from: Type.String(),
  to: Type.String(),
  strategy: Type.Enum(['precopy', 'postcopy', 'autoconverge'] as const),
  /** Whether the run switched to post-copy or raised the throttle after a stall. */
  escalated: Type.Union([Type.Enum(['postcopy', 'throttle'] as const), Type.Null()]),
  totalTimeMs: Type.Number(),
  downtimeMs: Type.Number(),
  setupTimeMs: Type.Number(),
  planningTimeMs: Type.Number(),
  bytesTransferred: Type.Number(),
  predicted: Type.Object({
    totalTimeMs: Type.Union([Type.Number(), Type.Null()]),
    downtimeMs: Type.Union([Type.Number(), Type.Null()]),
  }),
  tls: Type.Boolean(),
});
export type MigrationResult = Static<typeof MigrationResult>;
