import { Type, type Static } from 'typebox';
import { MAX_VM_CPUS, MAX_VM_DISK_GIB, MAX_VM_MEMORY_MIB } from './vm.js';

// Resize and hotplug (docs/adr/0023-resize-and-hotplug.md): how far a VM may grow while it runs,
// and the devices beyond its first disk and NIC.

/** Empty PCIe root ports every VM gets; each hot-plugged disk or NIC takes one. */
export const HOTPLUG_SLOTS = 4;
/** Memory slots a VM with memory headroom gets; each live memory growth takes one DIMM. */
export const MEMORY_SLOTS = 8;
/** Live memory grows in whole Linux memory blocks (128 MiB on x86-64). */
export const MEMORY_HOTPLUG_STEP_MIB = 128;

/** `disk1` ... `disk9`: the VM's data disks (disk0 is the one it boots from). */
export const DATA_DISK_NAME_PATTERN = '^disk[1-9]$';
/** `net1` ... `net9`: NICs beyond the first one on the host's network. */
export const EXTRA_NIC_NAME_PATTERN = '^net[1-9]$';

export const VmDataDisk = Type.Object({
  name: Type.String({ pattern: DATA_DISK_NAME_PATTERN }),
  sizeGiB: Type.Integer({ minimum: 1, maximum: MAX_VM_DISK_GIB }),
  /** The hotplug root port (0-based) the disk sits on, the same on every start and migration. */
  slot: Type.Integer({ minimum: 0, maximum: HOTPLUG_SLOTS - 1 }),
});
export type VmDataDisk = Static<typeof VmDataDisk>;

export const VmExtraNic = Type.Object({
  name: Type.String({ pattern: EXTRA_NIC_NAME_PATTERN }),
  /** `52:54:00:xx:xx:xx`, stable for the NIC's life. */
  mac: Type.String({ pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' }),
  slot: Type.Integer({ minimum: 0, maximum: HOTPLUG_SLOTS - 1 }),
});
export type VmExtraNic = Static<typeof VmExtraNic>;

/**
 * A VM's hardware beyond its size: the headroom it may grow into while running, the CPUs and
 * memory DIMMs added live (kept as devices, so a restart or a migration target builds the same
 * machine), and its data disks and extra NICs.
 */
export const VmHardware = Type.Object({
  /** vCPUs the VM may have while running; equal to cpus means no live CPU growth. */
  maxCpus: Type.Integer({ minimum: 1, maximum: MAX_VM_CPUS }),
  /** Memory the VM may have while running; equal to memoryMiB means no live memory growth. */
  maxMemoryMiB: Type.Integer({ minimum: 16, maximum: MAX_VM_MEMORY_MIB }),
  /** vCPUs added while it ran (of `cpus`), as CPU devices on sockets 1.. after the boot ones. */
  hotCpus: Type.Integer({ minimum: 0, maximum: MAX_VM_CPUS }),
  /** Memory added while it ran (part of `memoryMiB`), one pc-dimm each. */
  dimmsMiB: Type.Array(Type.Integer({ minimum: MEMORY_HOTPLUG_STEP_MIB }), {
    maxItems: MEMORY_SLOTS,
  }),
  disks: Type.Array(VmDataDisk, { maxItems: HOTPLUG_SLOTS }),
  nics: Type.Array(VmExtraNic, { maxItems: HOTPLUG_SLOTS }),
});
export type VmHardware = Static<typeof VmHardware>;

/** What a user sees of a VM's hardware (`GET /api/v1/vms/{id}/hardware`). */
export const VmHardwareView = Type.Object({
  vm: Type.String(),
  cpus: Type.Integer(),
  maxCpus: Type.Integer(),
  memoryMiB: Type.Integer(),
  maxMemoryMiB: Type.Integer(),
  diskGiB: Type.Integer(),
  disks: Type.Array(VmDataDisk),
  nics: Type.Array(VmExtraNic),
  /** CPUs and memory added while it ran, kept as devices. */
  hotCpus: Type.Integer(),
  dimmsMiB: Type.Array(Type.Integer()),
});
export type VmHardwareView = Static<typeof VmHardwareView>;

/**
 * `POST /api/v1/vms/{id}/resize`. On a running VM, cpus and memoryMiB grow live up to maxCpus and
 * maxMemoryMiB (hot-add), and the disk grows live; anything else waits for a stopped VM. A disk
 * never shrinks.
 */
export const VmResize = Type.Object(
  {
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_VM_CPUS })),
    memoryMiB: Type.Optional(Type.Integer({ minimum: 16, maximum: MAX_VM_MEMORY_MIB })),
    diskGiB: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_VM_DISK_GIB })),
    /** Only while stopped: the headroom for live CPU growth. */
    maxCpus: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_VM_CPUS })),
    /** Only while stopped: the headroom for live memory growth. */
    maxMemoryMiB: Type.Optional(Type.Integer({ minimum: 16, maximum: MAX_VM_MEMORY_MIB })),
  },
  { additionalProperties: false },
);
export type VmResize = Static<typeof VmResize>;

/** `POST /api/v1/vms/{id}/disks`: a new empty qcow2 data disk in the VM's pool. */
export const VmDiskAdd = Type.Object(
  {
    sizeGiB: Type.Integer({ minimum: 1, maximum: MAX_VM_DISK_GIB }),
    /** `disk1`..`disk9`; the first free name when absent. */
    name: Type.Optional(Type.String({ pattern: DATA_DISK_NAME_PATTERN })),
  },
  { additionalProperties: false },
);
export type VmDiskAdd = Static<typeof VmDiskAdd>;

/** `POST /api/v1/vms/{id}/nics`: one more NIC on the host's VM network. */
export const VmNicAdd = Type.Object(
  {
    /** `net1`..`net9`; the first free name when absent. */
    name: Type.Optional(Type.String({ pattern: EXTRA_NIC_NAME_PATTERN })),
  },
  { additionalProperties: false },
);
export type VmNicAdd = Static<typeof VmNicAdd>;

export const VmDeviceParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  device: Type.String({ pattern: '^(disk|net)[1-9]$' }),
});
export type VmDeviceParams = Static<typeof VmDeviceParams>;

/** The hardware of a VM that never had any of it recorded: no headroom, no extra devices. */
export function defaultHardware(size: { cpus: number; memoryMiB: number }): VmHardware {
  return {
    maxCpus: size.cpus,
    maxMemoryMiB: size.memoryMiB,
    hotCpus: 0,
    dimmsMiB: [],
    disks: [],
    nics: [],
  };
}
