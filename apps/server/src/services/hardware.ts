import { createHash } from 'node:crypto';
import {
  defaultHardware,
  HOTPLUG_SLOTS,
  MEMORY_HOTPLUG_STEP_MIB,
  type AgentHardwareReply,
  type Operation,
  type Vm,
  type VmDiskAdd,
  type VmHardware,
  type VmHardwareView,
  type VmNicAdd,
  type VmResize,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { HostService } from './hosts.js';
import { refuseTemplate, refuseWithSnapshots } from './snapshots.js';
import type { OperationContext, OperationRunner, RecoveryPlan } from './operations.js';
import type { VmService } from './vms.js';

// Resize and hotplug (docs/adr/0023-resize-and-hotplug.md). Each change is checked whole before
// anything happens (state, shrink, headroom, quota, host capacity); then an operation asks the
// VM's host to apply it, live when the VM runs, and records the size and hardware the host
// answers. A refusal changes nothing, on the host or in the store.

/** What a change asks: the VM's size and hardware as they should be. */
interface Wanted {
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
  hardware: VmHardware;
}

type HardwareKind = 'vm.resize' | 'vm.device.add' | 'vm.device.remove';

/** States a VM may be resized or get devices in: live while running, to its files while stopped. */
const CHANGEABLE_STATES = ['running', 'stopped'] as const;

export class HardwareService {
  constructor(
    private readonly store: Store,
    private readonly hosts: HostService,
    private readonly operations: OperationRunner,
    private readonly vms: VmService,
  ) {}

  /** The VM's size, headroom and devices. */
  async view(idOrName: string, project?: string): Promise<VmHardwareView> {
    const vm = await this.vms.get(idOrName, project);
    const hardware = await this.hardwareOf(vm);
    return {
      vm: vm.id,
      cpus: vm.cpus,
      maxCpus: hardware.maxCpus,
      memoryMiB: vm.memoryMiB,
      maxMemoryMiB: hardware.maxMemoryMiB,
      diskGiB: vm.diskGiB,
      disks: hardware.disks,
      nics: hardware.nics,
      hotCpus: hardware.hotCpus,
      dimmsMiB: hardware.dimmsMiB,
    };
  }

  /**
   * New vCPUs, memory, disk size or headroom. On a running VM vCPUs and memory only grow (within
   * the headroom) and the headroom stays; a disk never shrinks.
   */
  async resize(idOrName: string, input: VmResize, project?: string): Promise<Operation> {
    const vm = await this.changeable(idOrName, project);
    const hardware = await this.hardwareOf(vm);
    const live = vm.state === 'running';
    const cpus = input.cpus ?? vm.cpus;
    const memoryMiB = input.memoryMiB ?? vm.memoryMiB;
    const diskGiB = input.diskGiB ?? vm.diskGiB;
    const maxCpus = input.maxCpus ?? Math.max(hardware.maxCpus, live ? 0 : cpus);
    const maxMemoryMiB =
      input.maxMemoryMiB ?? Math.max(hardware.maxMemoryMiB, live ? 0 : memoryMiB);
    if (diskGiB < vm.diskGiB) {
      throw new DomainError(
        'DISK_SHRINK_REFUSED',
        `the disk of VM '${vm.name}' is ${vm.diskGiB} GiB: it cannot shrink to ${diskGiB} GiB (the guest's file systems would lose data); nothing changed`,
        { disk: 'disk0', sizeGiB: vm.diskGiB, requestedGiB: diskGiB },
      );
    }
    if (live) assertLiveResize(vm, hardware, { cpus, memoryMiB, maxCpus, maxMemoryMiB });
    if (maxCpus < cpus) {
      throw invalid(`maxCpus ${maxCpus} is below cpus ${cpus}`, 'maxCpus');
    }
    if (maxMemoryMiB < memoryMiB) {
      throw invalid(`maxMemoryMiB ${maxMemoryMiB} is below memoryMiB ${memoryMiB}`, 'maxMemoryMiB');
    }
    const wanted: Wanted = {
      cpus,
      memoryMiB,
      diskGiB,
      hardware: { ...hardware, maxCpus, maxMemoryMiB },
    };
    return this.change(vm, 'vm.resize', hardware, wanted, { resize: input });
  }

  /** A new empty qcow2 data disk in the VM's pool, hot-plugged when the VM runs. */
  async addDisk(idOrName: string, input: VmDiskAdd, project?: string): Promise<Operation> {
    const vm = await this.changeable(idOrName, project);
    const hardware = await this.hardwareOf(vm);
    const name =
      input.name ??
      firstFree(
        'disk',
        hardware.disks.map((d) => d.name),
      );
    if (hardware.disks.some((d) => d.name === name)) {
      throw invalid(`VM '${vm.name}' already has a disk ${name}`, 'name');
    }
    const disk = { name, sizeGiB: input.sizeGiB, slot: freeSlot(vm, hardware) };
    const wanted = { ...sizeOf(vm), hardware: { ...hardware, disks: [...hardware.disks, disk] } };
    return this.change(vm, 'vm.device.add', hardware, wanted, { device: disk });
  }

  /** One more NIC on the host's VM network, hot-plugged when the VM runs. */
  async addNic(idOrName: string, input: VmNicAdd, project?: string): Promise<Operation> {
    const vm = await this.changeable(idOrName, project);
    const hardware = await this.hardwareOf(vm);
    const name =
      input.name ??
      firstFree(
        'net',
        hardware.nics.map((n) => n.name),
      );
    if (hardware.nics.some((n) => n.name === name)) {
      throw invalid(`VM '${vm.name}' already has a NIC ${name}`, 'name');
    }
    const nic = { name, mac: macAddressOf(vm.id, name), slot: freeSlot(vm, hardware) };
    const wanted = { ...sizeOf(vm), hardware: { ...hardware, nics: [...hardware.nics, nic] } };
    return this.change(vm, 'vm.device.add', hardware, wanted, { device: nic });
  }

  /** Unplugs a data disk (its file is deleted) or an extra NIC. */
  async removeDevice(
    idOrName: string,
    device: string,
    project?: string,
    kind?: 'disk' | 'net',
  ): Promise<Operation> {
    if (kind !== undefined && !device.startsWith(kind)) {
      throw invalid(`${device} is not a ${kind === 'disk' ? 'data disk' : 'NIC'} name`, 'device');
    }
    const vm = await this.changeable(idOrName, project);
    const hardware = await this.hardwareOf(vm);
    const disks = hardware.disks.filter((d) => d.name !== device);
    const nics = hardware.nics.filter((n) => n.name !== device);
    if (disks.length === hardware.disks.length && nics.length === hardware.nics.length) {
      throw new DomainError('VALIDATION_FAILED', `VM '${vm.name}' has no device ${device}`, {
        device,
      });
    }
    const wanted = { ...sizeOf(vm), hardware: { ...hardware, disks, nics } };
    return this.change(vm, 'vm.device.remove', hardware, wanted, { device: { name: device } });
  }

  /**
   * After a server restart: asks the host again for what the operation wanted (the host applies
   * only the difference), so the store ends up with what the host has.
   */
  recoveryPlans(): Record<HardwareKind, RecoveryPlan> {
    const plan: RecoveryPlan = async (operation) => {
      const wanted = operation.metadata?.wanted as Wanted | undefined;
      const vm = await this.store.vms.get(undefined, operation.target.id);
      if (wanted === undefined || vm === undefined || operation.phase === 'started') {
        return { rollback: () => Promise.resolve('the host was not asked; nothing changed') };
      }
      return { resume: (context) => this.work(vm, wanted, context) };
    };
    return { 'vm.resize': plan, 'vm.device.add': plan, 'vm.device.remove': plan };
  }

  private async change(
    vm: Vm,
    kind: HardwareKind,
    current: VmHardware,
    wanted: Wanted,
    metadata: Record<string, unknown>,
  ): Promise<Operation> {
    const growth = {
      cpus: wanted.cpus - vm.cpus,
      memoryMiB: wanted.memoryMiB - vm.memoryMiB,
      diskGiB: wanted.diskGiB + diskTotal(wanted.hardware) - vm.diskGiB - diskTotal(current),
      vms: 0,
    };
    await this.vms.assertQuota(vm.project, growth);
    await this.assertHostFits(vm, wanted);
    return this.operations.start(kind, targetOf(vm), async (context) => {
      await context.metadata({ ...metadata, wanted });
      return this.work(vm, wanted, context);
    });
  }

  private async work(
    vm: Vm,
    wanted: Wanted,
    context: OperationContext,
  ): Promise<Record<string, unknown>> {
    await context.phase('applying', 20);
    const { agent } = await this.hosts.agentOf(vm.host ?? '');
    if (agent.applyHardware === undefined) {
      throw new DomainError(
        'HOTPLUG_NOT_SUPPORTED',
        `the agent of host ${vm.host ?? '?'} is older than resize and hotplug`,
      );
    }
    const current = (await this.store.vms.get(undefined, vm.id)) ?? vm;
    const spec = await this.vms.agentSpec({ ...current, ...sizeOf(wanted) });
    // A failure leaves the record as it was; the host says in the error what it did apply.
    const reply: AgentHardwareReply = await agent.applyHardware({
      ...spec,
      hardware: wanted.hardware,
    });
    await context.phase('recording', 90);
    const size = sizeOf(wanted);
    const updated = await this.store.transaction(async (tx) => {
      await tx.hardware.put(vm.id, reply.hardware);
      return tx.vms.update(vm.id, {
        ...size,
        state: reply.status.state,
        stateReason: reply.status.reason,
      });
    });
    return {
      vm: vm.id,
      live: reply.live,
      cpus: updated?.cpus ?? size.cpus,
      memoryMiB: updated?.memoryMiB ?? size.memoryMiB,
      diskGiB: updated?.diskGiB ?? size.diskGiB,
      disks: reply.hardware.disks.map((d) => d.name),
      nics: reply.hardware.nics.map((n) => n.name),
    };
  }

  private async changeable(idOrName: string, project?: string): Promise<Vm> {
    const vm = await this.vms.get(idOrName, project);
    // A template is immutable (docs/adr/0022-snapshots-clones-templates.md).
    refuseTemplate(vm, 'change the hardware of');
    await refuseWithSnapshots(this.store, vm, 'change the hardware of');
    if (!(CHANGEABLE_STATES as readonly string[]).includes(vm.state)) {
      throw new DomainError(
        'VM_INVALID_STATE',
        `cannot change the hardware of VM '${vm.name}' while it is ${vm.state}`,
        { state: vm.state, allowed: [...CHANGEABLE_STATES] },
      );
    }
    if (vm.host === null) {
      throw new DomainError('VM_INVALID_STATE', `VM '${vm.name}' is not placed on a host`);
    }
    return vm;
  }

  private async hardwareOf(vm: Vm): Promise<VmHardware> {
    return (await this.store.hardware.get(vm.id)) ?? defaultHardware(vm);
  }

  /** The VM's host must hold its new size next to the other VMs it has (memory is not overcommitted). */
  private async assertHostFits(vm: Vm, wanted: Wanted): Promise<void> {
    if (wanted.cpus <= vm.cpus && wanted.memoryMiB <= vm.memoryMiB) return;
    const host = await this.store.hosts.get(vm.host ?? '');
    if (host === undefined) throw new DomainError('HOST_NOT_FOUND', `host '${vm.host}' not found`);
    const others = (await this.store.vms.allocations()).filter(
      (a) => a.hostId === host.id && a.id !== vm.id,
    );
    const usedMemory = others.reduce((sum, a) => sum + a.memoryMiB, 0);
    let why: string | undefined;
    if (wanted.cpus > host.cpus) why = `${wanted.cpus} vCPUs asked, host has ${host.cpus}`;
    else if (usedMemory + wanted.memoryMiB > host.memoryMiB) {
      why = `${wanted.memoryMiB} MiB asked, host has ${host.memoryMiB} MiB of which its other VMs hold ${usedMemory}`;
    }
    if (why !== undefined) {
      throw new DomainError(
        'NO_HOST_FITS',
        `VM '${vm.name}' would not fit host ${host.name}: ${why}`,
        {
          hosts: { [host.name]: why },
        },
      );
    }
  }
}

/** What a running VM can do live; anything else is refused before its host is asked. */
function assertLiveResize(
  vm: Vm,
  hardware: VmHardware,
  wanted: { cpus: number; memoryMiB: number; maxCpus: number; maxMemoryMiB: number },
): void {
  const refuse = (what: string, why: string) =>
    new DomainError('HOTPLUG_NOT_SUPPORTED', `cannot ${what} of running VM '${vm.name}': ${why}`, {
      vm: vm.name,
    });
  if (wanted.maxCpus !== hardware.maxCpus || wanted.maxMemoryMiB !== hardware.maxMemoryMiB) {
    throw refuse('change the headroom (maxCpus, maxMemoryMiB)', 'stop it first');
  }
  if (wanted.cpus < vm.cpus) throw refuse('remove vCPUs', 'stop it to give it fewer');
  if (wanted.memoryMiB < vm.memoryMiB) throw refuse('remove memory', 'stop it to give it less');
  if (wanted.cpus > hardware.maxCpus) {
    throw refuse(
      'add vCPUs',
      hardware.maxCpus === vm.cpus
        ? 'it has no CPU headroom (maxCpus = cpus); set maxCpus while it is stopped'
        : `it may have at most ${hardware.maxCpus} (maxCpus)`,
    );
  }
  if (wanted.memoryMiB > hardware.maxMemoryMiB) {
    throw refuse(
      'add memory',
      hardware.maxMemoryMiB === vm.memoryMiB
        ? 'it has no memory headroom (maxMemoryMiB = memoryMiB); set maxMemoryMiB while it is stopped'
        : `it may have at most ${hardware.maxMemoryMiB} MiB (maxMemoryMiB)`,
    );
  }
  if ((wanted.memoryMiB - vm.memoryMiB) % MEMORY_HOTPLUG_STEP_MIB !== 0) {
    throw refuse('add memory', `it grows in steps of ${MEMORY_HOTPLUG_STEP_MIB} MiB`);
  }
}

function sizeOf(vm: { cpus: number; memoryMiB: number; diskGiB: number }) {
  return { cpus: vm.cpus, memoryMiB: vm.memoryMiB, diskGiB: vm.diskGiB };
}

function diskTotal(hardware: VmHardware): number {
  return hardware.disks.reduce((sum, disk) => sum + disk.sizeGiB, 0);
}

function freeSlot(vm: Vm, hardware: VmHardware): number {
  const taken = new Set([...hardware.disks, ...hardware.nics].map((d) => d.slot));
  for (let slot = 0; slot < HOTPLUG_SLOTS; slot += 1) if (!taken.has(slot)) return slot;
  throw new DomainError(
    'HOTPLUG_NOT_SUPPORTED',
    `VM '${vm.name}' has all ${HOTPLUG_SLOTS} hotplug slots taken: remove a data disk or NIC first`,
    { slots: HOTPLUG_SLOTS },
  );
}

function firstFree(prefix: 'disk' | 'net', taken: string[]): string {
  for (let n = 1; n <= 9; n += 1) if (!taken.includes(`${prefix}${n}`)) return `${prefix}${n}`;
  throw new DomainError('HOTPLUG_NOT_SUPPORTED', `no free ${prefix} name left (1-9)`);
}

/** A stable locally administered MAC per VM and NIC name (QEMU's 52:54:00 prefix). */
function macAddressOf(vmId: string, name: string): string {
  const digest = createHash('sha256').update(`${vmId}/${name}`).digest();
  return [0x52, 0x54, 0x00, ...digest.subarray(0, 3)]
    .map((byte) => byte.toString(16).padStart(2, '0'))
    .join(':');
}

function invalid(message: string, field: string): DomainError {
  return new DomainError('VALIDATION_FAILED', message, { field });
}

function targetOf(vm: Vm) {
  return { type: 'vm' as const, id: vm.id, name: vm.name, project: vm.project };
}

/**
 * The hardware a VM's host is told to build, kept consistent with its size: a PATCH of cpus or
 * memoryMiB while stopped may have left the headroom below the size or the live-added CPUs and
 * DIMMs beyond it. Undefined for a VM that has none recorded (its QEMU has no headroom).
 */
export function hardwareForSpec(
  vm: { cpus: number; memoryMiB: number },
  stored: VmHardware | undefined,
): VmHardware | undefined {
  if (stored === undefined) return undefined;
  const dimms = stored.dimmsMiB.reduce((sum, size) => sum + size, 0);
  return {
    ...stored,
    maxCpus: Math.max(stored.maxCpus, vm.cpus),
    maxMemoryMiB: Math.max(stored.maxMemoryMiB, vm.memoryMiB),
    hotCpus: stored.hotCpus < vm.cpus ? stored.hotCpus : 0,
    dimmsMiB: vm.memoryMiB - dimms >= 16 ? stored.dimmsMiB : [],
  };
}

/**
 * The hardware a create with headroom records (maxCpus, maxMemoryMiB at or above the size);
 * undefined when the create names none. VALIDATION_FAILED for a headroom below the size.
 */
export function headroomAtCreate(
  input: { maxCpus?: number; maxMemoryMiB?: number },
  size: { cpus: number; memoryMiB: number },
): VmHardware | undefined {
  if (input.maxCpus === undefined && input.maxMemoryMiB === undefined) return undefined;
  const maxCpus = input.maxCpus ?? size.cpus;
  const maxMemoryMiB = input.maxMemoryMiB ?? size.memoryMiB;
  if (maxCpus < size.cpus) {
    throw invalid(`maxCpus ${maxCpus} is below cpus ${size.cpus}`, 'maxCpus');
  }
  if (maxMemoryMiB < size.memoryMiB) {
    throw invalid(
      `maxMemoryMiB ${maxMemoryMiB} is below memoryMiB ${size.memoryMiB}`,
      'maxMemoryMiB',
    );
  }
  return { ...defaultHardware(size), maxCpus, maxMemoryMiB };
}

/**
 * MIGRATION_NOT_POSSIBLE for a VM with data disks in the local pool: only the boot disk is mirrored
 * or copied to another host (ADR 23); on the shared pool data disks need no move.
 */
export async function refuseLocalDataDisks(store: Store, vm: Vm): Promise<void> {
  if (vm.pool === 'shared') return;
  const disks = (await store.hardware.get(vm.id))?.disks ?? [];
  if (disks.length === 0) return;
  const names = disks.map((disk) => disk.name);
  throw new DomainError(
    'MIGRATION_NOT_POSSIBLE',
    `VM '${vm.name}' has data disks in the local pool (${names.join(', ')}): only its boot disk moves between hosts; remove them, or keep data disks on the shared pool`,
    { disks: names },
  );
}
