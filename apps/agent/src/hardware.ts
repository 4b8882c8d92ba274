import { rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  MEMORY_HOTPLUG_STEP_MIB,
  MEMORY_SLOTS,
  type AgentVmSpec,
  type VmDataDisk,
  type VmExtraNic,
  type VmHardware,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';
import {
  assertValidHardware,
  cpuDeviceId,
  cpuHotplugEnabled,
  createQcow2,
  dimmBackendId,
  dimmId,
  hardwareOf,
  hotplugBus,
  imageInfo,
  memoryHotplugEnabled,
  resizeImage,
  type HardwarePaths,
  type QemuInstance,
} from '@novacron/qemu';
import { QmpError, type QmpClient } from '@novacron/qmp';
import type { AgentLogger } from './logger.js';
import type { VmNetwork } from './network/host-network.js';

// Resize and hotplug on this host (docs/adr/0023-resize-and-hotplug.md): the difference between
// the spec a VM has and the one the server sends, made live through QMP when its QEMU runs, or
// to its disk files when it does not.

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** How long a guest has to release a device after device_del (it must answer the PCIe request). */
const UNPLUG_TIMEOUT_MS = 30_000;

export interface HardwareHost {
  /** The VM's boot disk (disk0). */
  diskPath: string;
  network?: VmNetwork;
  logger: AgentLogger;
}

/** A data disk's file: beside the VM's boot disk, in the same pool. */
export function dataDiskPath(diskPath: string, name: string): string {
  if (!/^disk[1-9]$/.test(name)) {
    throw new DomainError('VALIDATION_FAILED', `invalid data disk name ${JSON.stringify(name)}`);
  }
  return join(dirname(diskPath), `${name}.qcow2`);
}

/** The key a NIC beyond the first gets its own tap from (the host network names taps by key). */
export function extraNicKey(vmId: string, name: string): string {
  return `${vmId}-${name}`;
}

/** The files of the spec's data disks and the taps of its extra NICs, for the command line. */
export async function prepareHardware(
  spec: AgentVmSpec,
  host: HardwareHost & { create: boolean },
): Promise<HardwarePaths> {
  const hardware = hardwareOf(spec);
  const dataDisks: Record<string, string> = {};
  for (const disk of hardware.disks) {
    const path = dataDiskPath(host.diskPath, disk.name);
    dataDisks[disk.name] = path;
    if (host.create) await ensureDataDisk(path, disk);
  }
  const nicTaps: Record<string, string> = {};
  for (const nic of hardware.nics) {
    nicTaps[nic.name] = (
      await requireNetwork(host).prepareNic({ id: extraNicKey(spec.id, nic.name) })
    ).tap;
  }
  return { dataDisks, nicTaps };
}

/**
 * Removes the taps of the spec's extra NICs (the VM's QEMU is gone). Every removal is queued
 * before this returns its promise, so a start queued after it makes its taps after them.
 */
export async function releaseHardware(spec: AgentVmSpec, network?: VmNetwork): Promise<void> {
  if (network === undefined) return;
  await Promise.all(
    hardwareOf(spec).nics.map((nic) => network.releaseNic(extraNicKey(spec.id, nic.name))),
  );
}

/**
 * Makes the VM's hardware what `wanted` says, live when `qemu` runs, and answers the spec as
 * applied (with the CPUs and DIMMs added live). Everything is checked before anything changes; a
 * step that fails midway leaves what was done before it, and says so.
 */
export async function applyHardware(
  current: AgentVmSpec,
  wanted: AgentVmSpec,
  qemu: QemuInstance | null,
  host: HardwareHost,
): Promise<AgentVmSpec> {
  if (wanted.id !== current.id) throw new DomainError('VALIDATION_FAILED', 'the spec id changed');
  const from = hardwareOf(current);
  const to = hardwareOf(wanted);
  return qemu === null
    ? applyOffline(current, wanted, from, to, host)
    : applyLive(current, wanted, from, to, qemu, host);
}

async function applyOffline(
  current: AgentVmSpec,
  wanted: AgentVmSpec,
  from: VmHardware,
  to: VmHardware,
  host: HardwareHost,
): Promise<AgentVmSpec> {
  assertValidHardware(wanted);
  const removed = from.disks.filter((disk) => !to.disks.some((d) => d.name === disk.name));
  await assertNoShrink(host, current, wanted, from, to);
  // A stopped VM boots with all of its CPUs and memory: a new size starts without hot devices.
  const hardware: VmHardware = {
    ...to,
    hotCpus: wanted.cpus === current.cpus ? Math.min(from.hotCpus, wanted.cpus - 1) : 0,
    dimmsMiB: wanted.memoryMiB === current.memoryMiB ? from.dimmsMiB : [],
  };
  if (await exists(host.diskPath)) await growImage(host.diskPath, wanted.diskGiB);
  for (const disk of to.disks) {
    const path = dataDiskPath(host.diskPath, disk.name);
    await ensureDataDisk(path, disk);
  }
  for (const disk of removed) await rm(dataDiskPath(host.diskPath, disk.name), { force: true });
  const applied = { ...wanted, hardware };
  assertValidHardware(applied);
  return applied;
}

async function applyLive(
  current: AgentVmSpec,
  wanted: AgentVmSpec,
  from: VmHardware,
  to: VmHardware,
  qemu: QemuInstance,
  host: HardwareHost,
): Promise<AgentVmSpec> {
  // Checks first: nothing changes unless all of it can.
  const stopFirst = (what: string, why: string) =>
    new DomainError('HOTPLUG_NOT_SUPPORTED', `${what} of a running VM: ${why}`, {
      vm: current.id,
    });
  if (to.maxCpus !== from.maxCpus || to.maxMemoryMiB !== from.maxMemoryMiB) {
    throw stopFirst('cannot change the headroom (maxCpus, maxMemoryMiB)', 'stop the VM first');
  }
  if (wanted.cpus < current.cpus) {
    throw stopFirst('cannot remove vCPUs', 'stop the VM to give it fewer');
  }
  if (wanted.cpus > current.cpus) {
    if (!cpuHotplugEnabled(current)) {
      throw stopFirst(
        'cannot add vCPUs',
        `it was started without CPU headroom (maxCpus ${from.maxCpus}); set maxCpus while it is stopped`,
      );
    }
    if (wanted.cpus > from.maxCpus) {
      throw stopFirst('cannot add vCPUs', `it may have at most ${from.maxCpus} (maxCpus)`);
    }
  }
  const addedMemory = wanted.memoryMiB - current.memoryMiB;
  if (addedMemory < 0) throw stopFirst('cannot remove memory', 'stop the VM to give it less');
  if (addedMemory > 0) {
    if (!memoryHotplugEnabled(current)) {
      throw stopFirst(
        'cannot add memory',
        `it was started without memory headroom (maxMemoryMiB ${from.maxMemoryMiB}); set maxMemoryMiB while it is stopped`,
      );
    }
    if (wanted.memoryMiB > from.maxMemoryMiB) {
      throw stopFirst('cannot add memory', `it may have at most ${from.maxMemoryMiB} MiB`);
    }
    if (addedMemory % MEMORY_HOTPLUG_STEP_MIB !== 0) {
      throw stopFirst(
        'cannot add memory',
        `it grows in steps of ${MEMORY_HOTPLUG_STEP_MIB} MiB (one Linux memory block)`,
      );
    }
    if (from.dimmsMiB.length >= MEMORY_SLOTS) {
      throw stopFirst('cannot add memory', `all ${MEMORY_SLOTS} memory slots are taken`);
    }
  }
  assertValidHardware(wanted);
  await assertNoShrink(host, current, wanted, from, to);
  const addedDisks = to.disks.filter((disk) => !from.disks.some((d) => d.name === disk.name));
  const removedDisks = from.disks.filter((disk) => !to.disks.some((d) => d.name === disk.name));
  const addedNics = to.nics.filter((nic) => !from.nics.some((n) => n.name === nic.name));
  const removedNics = from.nics.filter((nic) => !to.nics.some((n) => n.name === nic.name));
  for (const device of [...to.disks, ...to.nics]) {
    const before = [...from.disks, ...from.nics].find((d) => d.name === device.name);
    if (before !== undefined && before.slot !== device.slot) {
      throw stopFirst(`cannot move ${device.name} to another slot`, 'remove it and add it again');
    }
  }
  if (addedNics.length > 0) requireNetwork(host);

  const qmp = await qemu.qmp();
  // What has been done so far: written back even when a later step fails.
  const done: AgentVmSpec = { ...current, hardware: { ...from } };
  const progress = () => done;
  try {
    if (wanted.diskGiB > current.diskGiB) {
      await run(qmp, 'block_resize', { 'node-name': 'disk0', size: wanted.diskGiB * GiB });
      done.diskGiB = wanted.diskGiB;
    }
    for (const disk of to.disks) {
      const before = from.disks.find((d) => d.name === disk.name);
      if (before !== undefined && disk.sizeGiB > before.sizeGiB) {
        await run(qmp, 'block_resize', { 'node-name': disk.name, size: disk.sizeGiB * GiB });
        replaceDisk(done, disk);
      }
    }
    if (wanted.cpus > current.cpus) {
      for (let socket = current.cpus; socket < wanted.cpus; socket += 1) {
        await addCpu(qmp, socket);
        done.cpus += 1;
        setHardware(done, { hotCpus: hardwareOf(done).hotCpus + 1 });
      }
    }
    if (addedMemory > 0) {
      const index = from.dimmsMiB.length;
      await addDimm(qmp, index, addedMemory);
      done.memoryMiB += addedMemory;
      setHardware(done, { dimmsMiB: [...hardwareOf(done).dimmsMiB, addedMemory] });
    }
    for (const disk of addedDisks) {
      await addDisk(qmp, dataDiskPath(host.diskPath, disk.name), disk);
      setHardware(done, { disks: [...hardwareOf(done).disks, disk] });
    }
    for (const nic of addedNics) {
      await addNic(qmp, current.id, nic, host);
      setHardware(done, { nics: [...hardwareOf(done).nics, nic] });
    }
    for (const disk of removedDisks) {
      await removeDisk(qmp, dataDiskPath(host.diskPath, disk.name), disk);
      setHardware(done, { disks: hardwareOf(done).disks.filter((d) => d.name !== disk.name) });
    }
    for (const nic of removedNics) {
      await removeNic(qmp, current.id, nic, host);
      setHardware(done, { nics: hardwareOf(done).nics.filter((n) => n.name !== nic.name) });
    }
  } catch (error) {
    throw new PartialHardwareError(error, progress());
  }
  return { ...wanted, cpus: done.cpus, memoryMiB: done.memoryMiB, hardware: hardwareOf(done) };
}

/** A live change that failed midway; `applied` is the spec as far as it got. */
export class PartialHardwareError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly applied: AgentVmSpec,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'PartialHardwareError';
  }

  /** The error to answer with: QMP's own words as QEMU_FAILED, a domain error as it is. */
  toDomainError(): Error {
    if (this.cause instanceof DomainError) return this.cause;
    if (this.cause instanceof QmpError) {
      return new DomainError('QEMU_FAILED', `hotplug failed: ${this.cause.message}`, {
        qmp: this.cause.code,
      });
    }
    return this.cause instanceof Error ? this.cause : new Error(String(this.cause));
  }
}

async function assertNoShrink(
  host: HardwareHost,
  current: AgentVmSpec,
  wanted: AgentVmSpec,
  from: VmHardware,
  to: VmHardware,
): Promise<void> {
  const shrink = (name: string, size: number, asked: number) =>
    new DomainError(
      'DISK_SHRINK_REFUSED',
      `disk ${name} is ${size} GiB: it cannot shrink to ${asked} GiB (its guest's file systems would lose data)`,
      { disk: name, sizeGiB: size, requestedGiB: asked },
    );
  if (wanted.diskGiB < current.diskGiB) throw shrink('disk0', current.diskGiB, wanted.diskGiB);
  // The file may be bigger than the spec says (a disk image larger than diskGiB).
  if (await exists(host.diskPath)) {
    const size = (await imageInfo(host.diskPath)).virtualSizeBytes;
    if (wanted.diskGiB * GiB < size) {
      throw shrink('disk0', Math.ceil(size / GiB), wanted.diskGiB);
    }
  }
  for (const disk of to.disks) {
    const before = from.disks.find((d) => d.name === disk.name);
    if (before !== undefined && disk.sizeGiB < before.sizeGiB) {
      throw shrink(disk.name, before.sizeGiB, disk.sizeGiB);
    }
  }
}

async function addCpu(qmp: QmpClient, socket: number): Promise<void> {
  const slots = (await run(qmp, 'query-hotpluggable-cpus')) as {
    type: string;
    props: Record<string, number>;
    'qom-path'?: string;
  }[];
  const slot = slots.find((s) => s.props['socket-id'] === socket && s['qom-path'] === undefined);
  if (slot === undefined) {
    throw new DomainError(
      'HOTPLUG_NOT_SUPPORTED',
      `QEMU has no free CPU slot on socket ${socket}`,
      {
        socket,
      },
    );
  }
  await run(qmp, 'device_add', { driver: slot.type, id: cpuDeviceId(socket), ...slot.props });
}

async function addDimm(qmp: QmpClient, index: number, sizeMiB: number): Promise<void> {
  await run(qmp, 'object-add', {
    'qom-type': 'memory-backend-ram',
    id: dimmBackendId(index),
    size: sizeMiB * MiB,
  });
  try {
    await run(qmp, 'device_add', {
      driver: 'pc-dimm',
      id: dimmId(index),
      memdev: dimmBackendId(index),
    });
  } catch (error) {
    await run(qmp, 'object-del', { id: dimmBackendId(index) }).catch(() => undefined);
    throw error;
  }
}

async function addDisk(qmp: QmpClient, path: string, disk: VmDataDisk): Promise<void> {
  const created = !(await exists(path));
  await ensureDataDisk(path, disk);
  let step = 0;
  try {
    await run(qmp, 'blockdev-add', {
      driver: 'file',
      'node-name': `${disk.name}-file`,
      filename: path,
    });
    step = 1;
    await run(qmp, 'blockdev-add', {
      driver: 'qcow2',
      'node-name': disk.name,
      file: `${disk.name}-file`,
    });
    step = 2;
    await run(qmp, 'device_add', {
      driver: 'virtio-blk-pci',
      id: `${disk.name}-dev`,
      drive: disk.name,
      bus: hotplugBus(disk.slot),
    });
  } catch (error) {
    if (step >= 2)
      await run(qmp, 'blockdev-del', { 'node-name': disk.name }).catch(() => undefined);
    if (step >= 1) {
      await run(qmp, 'blockdev-del', { 'node-name': `${disk.name}-file` }).catch(() => undefined);
    }
    if (created) await rm(path, { force: true });
    throw error;
  }
}

async function removeDisk(qmp: QmpClient, path: string, disk: VmDataDisk): Promise<void> {
  await unplug(qmp, `${disk.name}-dev`);
  await run(qmp, 'blockdev-del', { 'node-name': disk.name });
  await run(qmp, 'blockdev-del', { 'node-name': `${disk.name}-file` });
  await rm(path, { force: true });
}

async function addNic(
  qmp: QmpClient,
  vmId: string,
  nic: VmExtraNic,
  host: HardwareHost,
): Promise<void> {
  const network = requireNetwork(host);
  const key = extraNicKey(vmId, nic.name);
  const { tap } = await network.prepareNic({ id: key });
  let netdev = false;
  try {
    await run(qmp, 'netdev_add', {
      type: 'tap',
      id: nic.name,
      ifname: tap,
      script: 'no',
      downscript: 'no',
    });
    netdev = true;
    await run(qmp, 'device_add', {
      driver: 'virtio-net-pci',
      id: `${nic.name}-dev`,
      netdev: nic.name,
      mac: nic.mac,
      bus: hotplugBus(nic.slot),
      romfile: '',
    });
  } catch (error) {
    if (netdev) await run(qmp, 'netdev_del', { id: nic.name }).catch(() => undefined);
    await network.releaseNic(key);
    throw error;
  }
}

async function removeNic(
  qmp: QmpClient,
  vmId: string,
  nic: VmExtraNic,
  host: HardwareHost,
): Promise<void> {
  await unplug(qmp, `${nic.name}-dev`);
  await run(qmp, 'netdev_del', { id: nic.name });
  await host.network?.releaseNic(extraNicKey(vmId, nic.name));
}

/** device_del, then wait for QEMU's DEVICE_DELETED: the guest has let the device go. */
async function unplug(qmp: QmpClient, id: string): Promise<void> {
  const deleted = qmp.waitForEvent('DEVICE_DELETED', {
    timeoutMs: UNPLUG_TIMEOUT_MS,
    filter: (event) => (event.data as { device?: string } | undefined)?.device === id,
  });
  deleted.catch(() => undefined);
  await run(qmp, 'device_del', { id });
  try {
    await deleted;
  } catch (error) {
    throw new DomainError(
      'QEMU_FAILED',
      `the guest did not release ${id} within ${UNPLUG_TIMEOUT_MS / 1000} s (does its kernel handle PCIe hot-unplug?); QEMU removes it once it does`,
      { device: id, cause: error instanceof Error ? error.message : String(error) },
    );
  }
}

async function ensureDataDisk(path: string, disk: VmDataDisk): Promise<void> {
  if (await exists(path)) {
    await growImage(path, disk.sizeGiB);
    return;
  }
  await createQcow2(path, disk.sizeGiB * GiB);
}

/** qemu-img resize of a file no QEMU holds, only ever up. */
async function growImage(path: string, sizeGiB: number): Promise<void> {
  const size = (await imageInfo(path)).virtualSizeBytes;
  if (sizeGiB * GiB > size) await resizeImage(path, sizeGiB * GiB);
}

function replaceDisk(spec: AgentVmSpec, disk: VmDataDisk): void {
  setHardware(spec, {
    disks: hardwareOf(spec).disks.map((d) => (d.name === disk.name ? disk : d)),
  });
}

function setHardware(spec: AgentVmSpec, change: Partial<VmHardware>): void {
  spec.hardware = { ...hardwareOf(spec), ...change };
}

function requireNetwork(host: HardwareHost): VmNetwork {
  if (!host.network) {
    throw new DomainError(
      'HOTPLUG_NOT_SUPPORTED',
      'this host has no VM network, so a VM on it can have no NIC',
    );
  }
  return host.network;
}

function run(qmp: QmpClient, command: string, args?: Record<string, unknown>): Promise<unknown> {
  return qmp.executeRaw(command, args);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
