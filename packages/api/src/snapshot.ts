import { Type, type Static } from 'typebox';
import { IdOrName, Labels, Name, Timestamp } from './common.js';
import { AgentVmSpec } from './agent.js';
import { VmDescription } from './vm.js';

// Snapshots, clones and templates (docs/adr/0022-snapshots-clones-templates.md).

/**
 * A snapshot name: letters, digits, `_` and `-`, starting with a letter, at most 63 characters
 * (a path segment, like a VM id). It becomes a qcow2 snapshot tag and a QMP argument, never a
 * path or a shell word. Never all digits: QEMU looks a tag up by snapshot id too, and ids are
 * numbers.
 */
export const SNAPSHOT_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_-]{0,62}$';
export const SnapshotName = Type.String({
  pattern: SNAPSHOT_NAME_PATTERN,
  minLength: 1,
  maxLength: 63,
});

/** One snapshot of a VM: its disk at one moment, with the guest's RAM and devices when `memory`. */
export const VmSnapshot = Type.Object({
  id: Type.String(),
  vmId: Type.String(),
  name: Type.String(),
  description: Type.String(),
  /** The snapshot holds the running guest (RAM and device state): a revert resumes it there. */
  memory: Type.Boolean(),
  /** The VM's state when the snapshot was taken. */
  vmState: Type.String(),
  /** Bytes of saved guest state (0 for a disk-only snapshot), as QEMU reports it. */
  vmStateBytes: Type.Integer(),
  createdAt: Timestamp,
});
export type VmSnapshot = Static<typeof VmSnapshot>;

export const VmSnapshotList = Type.Object({ items: Type.Array(VmSnapshot) });
export type VmSnapshotList = Static<typeof VmSnapshotList>;

export const VmSnapshotCreate = Type.Object(
  {
    name: SnapshotName,
    description: Type.Optional(VmDescription),
    /**
     * Save the running guest's RAM and device state too (a running or paused VM only). Default
     * false: disk only, crash-consistent like a power cut.
     */
    memory: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type VmSnapshotCreate = Static<typeof VmSnapshotCreate>;

export const VmSnapshotParams = Type.Object({ id: IdOrName, snapshot: SnapshotName });
export type VmSnapshotParams = Static<typeof VmSnapshotParams>;

/**
 * A new VM from a VM, one of its snapshots, or a template. The clone gets its own id, MAC address
 * and name; size, kernel arguments, pool and placement rules are the source's.
 */
export const VmClone = Type.Object(
  {
    name: Name,
    /** Clone the disk as it was in this snapshot of the source instead of as it is now. */
    snapshot: Type.Optional(SnapshotName),
    /**
     * Copy the whole disk instead of linking to the template's (only meaningful from a template;
     * a clone of a VM or a snapshot is always a copy).
     */
    full: Type.Optional(Type.Boolean()),
    /** Start the clone once made (default true). */
    start: Type.Optional(Type.Boolean()),
    labels: Type.Optional(Labels),
    description: Type.Optional(VmDescription),
  },
  { additionalProperties: false },
);
export type VmClone = Static<typeof VmClone>;

// Agent side.

export const AgentSnapshotCreate = Type.Object(
  { name: SnapshotName, memory: Type.Boolean() },
  { additionalProperties: false },
);
export type AgentSnapshotCreate = Static<typeof AgentSnapshotCreate>;

/** What a host has of one snapshot, read from the disk itself. */
export const AgentSnapshot = Type.Object({
  name: Type.String(),
  vmStateBytes: Type.Integer(),
  /** The VM state when taken: running/paused for a live snapshot, stopped for an offline one. */
  vmState: Type.String(),
});
export type AgentSnapshot = Static<typeof AgentSnapshot>;

export const AgentSnapshotList = Type.Array(AgentSnapshot);
export type AgentSnapshotList = Static<typeof AgentSnapshotList>;

export const AgentSnapshotParams = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 64 }),
  snapshot: SnapshotName,
});
export type AgentSnapshotParams = Static<typeof AgentSnapshotParams>;

/**
 * `POST /v1/vms/{source}/clone`: make the disk of the VM `spec` from the source VM's (now, or as
 * in `snapshot`), `linked` as an overlay reading the source's disk (the source is a template),
 * then record the spec; the server starts the clone with a PUT as usual.
 */
export const AgentCloneRequest = Type.Object(
  {
    spec: AgentVmSpec,
    snapshot: Type.Optional(SnapshotName),
    linked: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type AgentCloneRequest = Static<typeof AgentCloneRequest>;

/** How the clone's disk was made, as the host did it. */
export const AgentCloneReply = Type.Object({
  /** `linked` (overlay on the template's disk), `backup` (blockdev-backup of the running source), `copy` (qemu-img convert). */
  method: Type.Union([Type.Literal('linked'), Type.Literal('backup'), Type.Literal('copy')]),
  /** Bytes the clone's own disk layer holds after the copy. */
  allocatedBytes: Type.Integer(),
});
export type AgentCloneReply = Static<typeof AgentCloneReply>;
