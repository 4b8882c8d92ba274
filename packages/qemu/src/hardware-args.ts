import {
  defaultHardware,
  HOTPLUG_SLOTS,
  MEMORY_SLOTS,
  type AgentVmSpec,
  type VmHardware,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';

// The parts of a QEMU command line that resize and hotplug shape (docs/adr/0023): the CPU and
// memory topology with headroom, and the devices added live, so that a restart or a migration
// target builds exactly the machine the running guest has.

/** Where a VM's extra devices live on this host: a data disk's file, an extra NIC's tap. */
export interface HardwarePaths {
  /** Data disk name (`disk1`) -> its qcow2 file. */
  dataDisks?: Readonly<Record<string, string>>;
  /** Extra NIC name (`net1`) -> its tap device. */
  nicTaps?: Readonly<Record<string, string>>;
}

const TAP_NAME = /^[A-Za-z0-9_-]{1,15}$/;
const DISK_NAME = /^disk[1-9]$/;
const NIC_NAME = /^net[1-9]$/;
const MAC_ADDRESS = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const CPU_MODEL_NAME = /^[A-Za-z0-9_.-]+$/;

/** The VM's hardware, or the default (no headroom, no extra devices) when its spec has none. */
export function hardwareOf(spec: Pick<AgentVmSpec, 'cpus' | 'memoryMiB' | 'hardware'>): VmHardware {
  return spec.hardware ?? defaultHardware(spec);
}

/** vCPUs QEMU starts with from `-smp`; the rest of `cpus` are CPU devices added live before. */
export function bootCpus(spec: Pick<AgentVmSpec, 'cpus' | 'memoryMiB' | 'hardware'>): number {
  return spec.cpus - hardwareOf(spec).hotCpus;
}

/** Memory QEMU starts with from `-m`; the rest of memoryMiB is in DIMMs added live before. */
export function bootMemoryMiB(spec: Pick<AgentVmSpec, 'cpus' | 'memoryMiB' | 'hardware'>): number {
  return spec.memoryMiB - hardwareOf(spec).dimmsMiB.reduce((sum, size) => sum + size, 0);
}

/** Whether the VM's QEMU has room for CPU devices (its `-smp` names maxcpus). */
export function cpuHotplugEnabled(
  spec: Pick<AgentVmSpec, 'cpus' | 'memoryMiB' | 'hardware'>,
): boolean {
  return hardwareOf(spec).maxCpus > bootCpus(spec);
}

/** Whether the VM's QEMU has memory slots (its `-m` names slots and maxmem). */
export function memoryHotplugEnabled(
  spec: Pick<AgentVmSpec, 'cpus' | 'memoryMiB' | 'hardware'>,
): boolean {
  return hardwareOf(spec).maxMemoryMiB > bootMemoryMiB(spec);
}

/** `-smp`: the plain count, or one CPU per socket up to maxcpus when CPUs may be added live. */
export function smpArg(spec: Pick<AgentVmSpec, 'cpus' | 'memoryMiB' | 'hardware'>): string {
  const boot = bootCpus(spec);
  if (!cpuHotplugEnabled(spec)) return String(boot);
  const max = hardwareOf(spec).maxCpus;
  return `${boot},sockets=${max},cores=1,threads=1,maxcpus=${max}`;
}

/** `-m`: the boot memory, with slots and maxmem when memory may be added live. */
export function memoryArg(spec: Pick<AgentVmSpec, 'cpus' | 'memoryMiB' | 'hardware'>): string {
  const boot = bootMemoryMiB(spec);
  if (!memoryHotplugEnabled(spec)) return `${boot}M`;
  return `${boot}M,slots=${MEMORY_SLOTS},maxmem=${hardwareOf(spec).maxMemoryMiB}M`;
}

/** The QOM type of one vCPU of a `-cpu` model on x86-64: `qemu64,-pni` -> `qemu64-x86_64-cpu`. */
export function cpuDeviceType(cpuModel: string): string {
  const name = cpuModel.split(',')[0] ?? '';
  check(CPU_MODEL_NAME.test(name), 'cpuModel', cpuModel);
  return `${name}-x86_64-cpu`;
}

/** The id of the CPU device on a socket, the same when added live and on a command line. */
export function cpuDeviceId(socket: number): string {
  return `cpu${socket}`;
}

export function dimmId(index: number): string {
  return `dimm${index}`;
}

export function dimmBackendId(index: number): string {
  return `mem-dimm${index}`;
}

/** The bus of hotplug root port `slot` (the command-line builder makes `hotplug0`..). */
export function hotplugBus(slot: number): string {
  return `hotplug${slot}`;
}

/**
 * Checks a spec's hardware for what the command line embeds, and for consistency: live-added
 * CPUs and DIMMs within the headroom, distinct device names and slots.
 */
export function assertValidHardware(
  spec: Pick<AgentVmSpec, 'cpus' | 'memoryMiB' | 'hardware'>,
): void {
  const hardware = hardwareOf(spec);
  check(Number.isInteger(hardware.hotCpus) && hardware.hotCpus >= 0, 'hotCpus', hardware.hotCpus);
  check(bootCpus(spec) >= 1, 'hotCpus (more than cpus)', hardware.hotCpus);
  check(hardware.maxCpus >= spec.cpus, 'maxCpus (below cpus)', hardware.maxCpus);
  check(
    hardware.maxMemoryMiB >= spec.memoryMiB,
    'maxMemoryMiB (below memoryMiB)',
    hardware.maxMemoryMiB,
  );
  check(
    hardware.dimmsMiB.length <= MEMORY_SLOTS,
    'dimmsMiB (more than the slots)',
    hardware.dimmsMiB,
  );
  for (const size of hardware.dimmsMiB) check(Number.isInteger(size) && size > 0, 'dimmsMiB', size);
  check(bootMemoryMiB(spec) >= 16, 'dimmsMiB (more than memoryMiB)', hardware.dimmsMiB);
  const names = new Set<string>();
  const slots = new Set<number>();
  for (const device of [...hardware.disks, ...hardware.nics]) {
    check(!names.has(device.name), 'device name (twice)', device.name);
    check(!slots.has(device.slot), 'device slot (twice)', device.slot);
    check(
      Number.isInteger(device.slot) && device.slot >= 0 && device.slot < HOTPLUG_SLOTS,
      'slot',
      device.slot,
    );
    names.add(device.name);
    slots.add(device.slot);
  }
  for (const disk of hardware.disks) check(DISK_NAME.test(disk.name), 'disk name', disk.name);
  for (const nic of hardware.nics) {
    check(NIC_NAME.test(nic.name), 'nic name', nic.name);
    check(MAC_ADDRESS.test(nic.mac), 'nic mac', nic.mac);
  }
}

/**
 * The devices of the VM's hardware on a command line: CPUs and DIMMs added live before, data
 * disks and extra NICs on their hotplug ports. Empty for a VM without any.
 */
export function hardwareDeviceArgs(
  spec: Pick<AgentVmSpec, 'cpus' | 'memoryMiB' | 'hardware'>,
  cpuModel: string,
  paths: HardwarePaths,
  opt: (value: string) => string,
): string[] {
  assertValidHardware(spec);
  const hardware = hardwareOf(spec);
  const args: string[] = [];
  if (hardware.hotCpus > 0) {
    const type = cpuDeviceType(cpuModel);
    for (let socket = bootCpus(spec); socket < spec.cpus; socket += 1) {
      args.push(
        '-device',
        `${type},id=${cpuDeviceId(socket)},socket-id=${socket},core-id=0,thread-id=0`,
      );
    }
  }
  hardware.dimmsMiB.forEach((size, index) => {
    args.push(
      '-object',
      `memory-backend-ram,id=${dimmBackendId(index)},size=${size}M`,
      '-device',
      `pc-dimm,id=${dimmId(index)},memdev=${dimmBackendId(index)}`,
    );
  });
  for (const disk of hardware.disks) {
    const file = paths.dataDisks?.[disk.name];
    if (file === undefined) {
      throw new DomainError('VALIDATION_FAILED', `no file for data disk ${disk.name}`, {
        disk: disk.name,
      });
    }
    args.push(
      '-blockdev',
      `driver=file,node-name=${disk.name}-file,filename=${opt(file)}`,
      '-blockdev',
      `driver=qcow2,node-name=${disk.name},file=${disk.name}-file`,
      '-device',
      `virtio-blk-pci,id=${disk.name}-dev,drive=${disk.name},bus=${hotplugBus(disk.slot)}`,
    );
  }
  for (const nic of hardware.nics) {
    const tap = paths.nicTaps?.[nic.name];
    if (tap === undefined || !TAP_NAME.test(tap)) {
      throw new DomainError('VALIDATION_FAILED', `no tap device for NIC ${nic.name}`, {
        nic: nic.name,
      });
    }
    args.push(
      '-netdev',
      `tap,id=${nic.name},ifname=${tap},script=no,downscript=no`,
      '-device',
      `virtio-net-pci,id=${nic.name}-dev,netdev=${nic.name},mac=${nic.mac},bus=${hotplugBus(nic.slot)},romfile=`,
    );
  }
  return args;
}

function check(ok: boolean, field: string, value: unknown): void {
  if (!ok) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `invalid hardware ${field}: ${JSON.stringify(value)}`,
      {
        field,
        value,
      },
    );
  }
}
