import type {
  Operation,
  Vm,
  VmClone,
  VmSnapshot,
  VmSnapshotCreate,
  VmSnapshotList,
} from '@novacron/api';
import { assertValidName, cloudInitForClone, DomainError } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { AgentPort, AgentSnapshotPort } from '../agents/agent-client.js';
import type { HostService } from './hosts.js';
import type { OperationContext, OperationRunner, RecoveryPlan } from './operations.js';
import type { VmService } from './vms.js';

// Snapshots, clones and templates (docs/adr/0022-snapshots-clones-templates.md). Everything is
// checked before anything is recorded or asked of a host, so bad input changes nothing; the
// work then runs as an operation on the VM's host, whose per-VM queue orders it with the VM's
// other actions.

type SnapshotKind = 'vm.snapshot' | 'vm.snapshot.revert' | 'vm.snapshot.delete' | 'vm.clone';

/** States in which a VM's disk can be snapshotted, reverted or cloned. */
const SETTLED = ['running', 'paused', 'stopped'] as const;

export class SnapshotService {
  constructor(
    private readonly store: Store,
    private readonly hosts: HostService,
    private readonly operations: OperationRunner,
    private readonly vms: VmService,
  ) {}

  async list(idOrName: string, project?: string): Promise<VmSnapshotList> {
    const vm = await this.vms.get(idOrName, project);
    return { items: await this.store.snapshots.list(vm.id) };
  }

  async get(idOrName: string, name: string, project?: string): Promise<VmSnapshot> {
    const vm = await this.vms.get(idOrName, project);
    return this.requireSnapshot(vm, name);
  }

  /** `POST /vms/{id}/snapshots`: a `vm.snapshot` operation. */
  async create(idOrName: string, input: VmSnapshotCreate, project?: string): Promise<Operation> {
    const vm = await this.vms.get(idOrName, project);
    refuseTemplate(vm, 'take a snapshot of');
    const state = settled(vm, 'take a snapshot of');
    const memory = input.memory === true;
    if (memory && state === 'stopped') {
      throw new DomainError(
        'VM_INVALID_STATE',
        `VM '${vm.name}' is stopped: a snapshot with memory needs a running or paused guest`,
        { state, allowed: ['running', 'paused'] },
      );
    }
    const dataDisks = (await this.store.hardware.get(vm.id))?.disks.map((d) => d.name) ?? [];
    if (dataDisks.length > 0) {
      // A snapshot covers the boot disk only: a revert would leave the data disks as they are.
      throw new DomainError(
        'VM_INVALID_STATE',
        `VM '${vm.name}' has data disks (${dataDisks.join(', ')}): a snapshot covers the boot disk only, so it is refused`,
        { dataDisks },
      );
    }
    if ((await this.store.snapshots.get(vm.id, input.name)) !== undefined) {
      throw new DomainError(
        'SNAPSHOT_NAME_TAKEN',
        `VM '${vm.name}' already has a snapshot named ${input.name}`,
        { snapshot: input.name },
      );
    }
    const agent = await this.snapshotAgent(vm);
    return this.operations.start('vm.snapshot', target(vm), async (context) => {
      await context.metadata({ snapshot: input.name, memory });
      await context.phase(memory ? 'saving disk and memory' : 'saving disk', 10);
      const started = performance.now();
      const taken = await agent.create(vm.id, { name: input.name, memory });
      const snapshot = await this.store.snapshots.create({
        vmId: vm.id,
        name: input.name,
        ...(input.description === undefined ? {} : { description: input.description }),
        memory,
        vmState: taken.vmState,
        vmStateBytes: taken.vmStateBytes,
      });
      return {
        vm: vm.id,
        snapshot: snapshot.name,
        memory,
        vmStateBytes: snapshot.vmStateBytes,
        seconds: seconds(started),
      };
    });
  }

  /**
   * `POST /vms/{id}/snapshots/{name}/revert`: a `vm.snapshot.revert` operation. With memory the
   * guest continues from the snapshot (a stopped VM starts there); disk only, a running guest
   * restarts from the reverted disk and a stopped VM stays stopped.
   */
  async revert(idOrName: string, name: string, project?: string): Promise<Operation> {
    const vm = await this.vms.get(idOrName, project);
    refuseTemplate(vm, 'revert');
    const snapshot = await this.requireSnapshot(vm, name);
    settled(vm, 'revert');
    const { agent, port } = await this.agentOf(vm);
    return this.operations.start('vm.snapshot.revert', target(vm), async (context) => {
      await context.metadata({ snapshot: name, memory: snapshot.memory });
      await context.phase('reverting', 10);
      const started = performance.now();
      try {
        await port.revert(vm.id, name);
      } finally {
        await this.observe(vm, agent);
      }
      const after = await this.vms.get(vm.id);
      return { vm: vm.id, snapshot: name, state: after.state, seconds: seconds(started) };
    });
  }

  /** `DELETE /vms/{id}/snapshots/{name}`: a `vm.snapshot.delete` operation. */
  async delete(idOrName: string, name: string, project?: string): Promise<Operation> {
    const vm = await this.vms.get(idOrName, project);
    await this.requireSnapshot(vm, name);
    if (vm.state === 'migrating' || vm.state === 'deleting') {
      throw new DomainError(
        'VM_INVALID_STATE',
        `cannot delete a snapshot of VM '${vm.name}' while it is ${vm.state}`,
        { state: vm.state },
      );
    }
    const agent = await this.snapshotAgent(vm);
    return this.operations.start('vm.snapshot.delete', target(vm), async (context) => {
      await context.metadata({ snapshot: name });
      await context.phase('deleting', 10);
      await agent.delete(vm.id, name);
      await this.store.snapshots.delete(vm.id, name);
      return { vm: vm.id, snapshot: name };
    });
  }

  /**
   * `POST /vms/{id}/clone`: a new VM (its own id, MAC address and name) from a VM as it is now,
   * from one of its snapshots, or from a template (a linked clone unless `full`). The disk is
   * made on the source's host, so the clone is placed there; quota and host capacity apply.
   */
  async clone(idOrName: string, input: VmClone, project?: string): Promise<Operation> {
    const source = await this.vms.get(idOrName, project);
    assertValidName(input.name, 'VM name');
    settled(source, 'clone');
    if (input.snapshot !== undefined) await this.requireSnapshot(source, input.snapshot);
    const linked = source.template === true && input.full !== true && input.snapshot === undefined;
    if (source.host === null) {
      throw new DomainError('VM_INVALID_STATE', `VM '${source.name}' is not placed on a host`);
    }
    const { port } = await this.agentOf(source);
    const sourceHost = await this.store.hosts.get(source.host);
    if (sourceHost === undefined) {
      throw new DomainError('HOST_NOT_FOUND', `host '${source.host}' not found`);
    }
    const size = { cpus: source.cpus, memoryMiB: source.memoryMiB, diskGiB: source.diskGiB };
    await this.vms.assertQuota(source.project, { ...size, vms: 1 });
    const start = input.start ?? true;
    const { value: clone } = await this.vms.scheduler.placeAndCommit(
      {
        project: source.project,
        size,
        placement: source.placement,
        // The new disk is made beside the source's (a linked one reads it): the same host.
        onlyHost: sourceHost.id,
      },
      async (tx, host) => {
        await tx.projects.lock(source.project);
        await this.vms.assertQuota(source.project, { ...size, vms: 1 }, tx);
        const created = await tx.vms.create({
          name: input.name,
          project: source.project,
          imageId: source.imageId,
          hostId: host.id,
          state: 'creating',
          desiredState: start ? 'running' : 'stopped',
          ...size,
          kernelArgs: source.kernelArgs,
          labels: input.labels ?? source.labels,
          description: input.description ?? source.description,
          restartPolicy: source.restartPolicy,
          pool: source.pool,
          placement: source.placement,
          baseVmId: linked ? source.id : null,
        });
        // cloud-init data goes with the clone, as a new instance (ADR 24).
        const seed = await tx.cloudInit.get(source.id);
        if (seed !== undefined) {
          await tx.cloudInit.put(created.id, cloudInitForClone(seed, source, created));
        }
        return created;
      },
    );
    return this.operations.start('vm.clone', target(clone), (context) =>
      this.cloneWork(source, clone, port, linked, input.snapshot, context),
    );
  }

  /**
   * `POST /vms/{id}/template`: the stopped VM becomes a template (Proxmox style): it can no longer
   * be started, resized, snapshotted or migrated away from its linked clones, only cloned. A VM
   * with snapshots must lose them first. Marking a template again changes nothing.
   */
  async markTemplate(idOrName: string, project?: string): Promise<Vm> {
    const vm = await this.vms.get(idOrName, project);
    if (vm.template === true) return vm;
    if (vm.state !== 'stopped') {
      throw new DomainError(
        'VM_INVALID_STATE',
        `VM '${vm.name}' is ${vm.state}: only a stopped VM becomes a template`,
        { state: vm.state, allowed: ['stopped'] },
      );
    }
    const count = await this.store.snapshots.count(vm.id);
    if (count > 0) {
      throw new DomainError(
        'VM_HAS_SNAPSHOTS',
        `VM '${vm.name}' has ${count} snapshot(s): delete them before making it a template`,
        { snapshots: count },
      );
    }
    const updated = await this.store.vms.update(
      vm.id,
      { template: true, desiredState: 'stopped' },
      vm.version,
    );
    return updated ?? this.vms.get(vm.id);
  }

  /**
   * What a restarted server does with an unfinished snapshot operation: the host may or may not
   * have done it, so the store is brought in line with what the disk holds, and the VM with
   * what its host reports. A clone whose disk may be half made is removed.
   */
  recoveryPlans(): Record<SnapshotKind, RecoveryPlan> {
    const resync: RecoveryPlan = (operation) =>
      Promise.resolve({
        rollback: async () => {
          const vm = await this.store.vms.get(undefined, operation.target.id);
          if (vm === undefined) return 'the VM no longer exists';
          const { agent, port } = await this.agentOf(vm);
          const onDisk = new Set((await port.list(vm.id)).map((s) => s.name));
          const name = operation.metadata?.snapshot;
          if (typeof name === 'string' && !onDisk.has(name)) {
            await this.store.snapshots.delete(vm.id, name);
          } else if (typeof name === 'string' && operation.kind === 'vm.snapshot') {
            // Taken on the host but not recorded: removed, so that the user can take it again.
            await port.delete(vm.id, name);
          }
          await this.observe(vm, agent);
          return `VM ${vm.name}: its snapshots are as its disk holds them`;
        },
      });
    const cloneRollback: RecoveryPlan = (operation) =>
      Promise.resolve({
        rollback: async () => {
          const vm = await this.store.vms.get(undefined, operation.target.id);
          if (vm === undefined) return 'the clone no longer exists';
          if (vm.host !== null) await (await this.hosts.agentOf(vm.host)).agent.deleteVm(vm.id);
          await this.store.vms.delete(vm.id);
          return `clone ${vm.name} removed`;
        },
      });
    return {
      'vm.snapshot': resync,
      'vm.snapshot.revert': resync,
      'vm.snapshot.delete': resync,
      'vm.clone': cloneRollback,
    };
  }

  private async cloneWork(
    source: Vm,
    clone: Vm,
    port: AgentSnapshotPort,
    linked: boolean,
    snapshot: string | undefined,
    context: OperationContext,
  ): Promise<Record<string, unknown>> {
    const started = performance.now();
    await context.metadata({ source: source.id, linked, ...(snapshot && { snapshot }) });
    const { agent } = await this.hosts.agentOf(clone.host ?? '');
    try {
      await context.phase(linked ? 'linking disk' : 'copying disk', 10);
      const spec = await this.vms.agentSpec(clone);
      const made = await port.clone(source.id, {
        spec,
        linked,
        ...(snapshot === undefined ? {} : { snapshot }),
      });
      await context.phase('provisioning', 60);
      const status = await agent.ensureVm(spec);
      await this.store.vms.update(clone.id, { state: status.state, stateReason: status.reason });
      return {
        vm: clone.id,
        source: source.id,
        method: made.method,
        allocatedBytes: made.allocatedBytes,
        state: status.state,
        seconds: seconds(started),
        ...(snapshot && { snapshot }),
      };
    } catch (error) {
      // Nothing of a failed clone stays: its disk on the host, its record.
      await agent.deleteVm(clone.id).catch(() => undefined);
      await this.store.vms.delete(clone.id);
      throw error;
    }
  }

  /** Records what the VM's host reports of it; a guest that runs is wanted running. */
  private async observe(vm: Vm, agent: AgentPort): Promise<void> {
    const status = (await agent.listVms()).find((s) => s.id === vm.id);
    if (status === undefined) return;
    const running = status.state === 'running' || status.state === 'paused';
    await this.store.vms.update(vm.id, {
      state: status.state,
      stateReason: status.reason,
      desiredState: running ? 'running' : 'stopped',
    });
  }

  private async requireSnapshot(vm: Vm, name: string): Promise<VmSnapshot> {
    const snapshot = await this.store.snapshots.get(vm.id, name);
    if (snapshot === undefined) {
      throw new DomainError('SNAPSHOT_NOT_FOUND', `VM '${vm.name}' has no snapshot named ${name}`, {
        vm: vm.name,
        snapshot: name,
      });
    }
    return snapshot;
  }

  private async snapshotAgent(vm: Vm): Promise<AgentSnapshotPort> {
    return (await this.agentOf(vm)).port;
  }

  private async agentOf(vm: Vm): Promise<{ agent: AgentPort; port: AgentSnapshotPort }> {
    if (vm.host === null) {
      throw new DomainError('VM_INVALID_STATE', `VM '${vm.name}' is not placed on a host`);
    }
    const { host, agent } = await this.hosts.agentOf(vm.host);
    if (agent.snapshots === undefined) {
      throw new DomainError(
        'AGENT_ERROR',
        `the agent of host ${host.name} has no snapshots (an older version)`,
        { host: host.name },
      );
    }
    return { agent, port: agent.snapshots };
  }
}

/**
 * Why a VM cannot move to another host because of its snapshots or its template, if it cannot:
 * a local disk moves as its top layer only (the mirror and the cold copy read the guest's view),
 * so qcow2 internal snapshots and a linked clone's link to its template's disk would not survive.
 * On the shared pool the disk stays where it is and all of it survives.
 */
export async function assertMovable(store: Store, vm: Vm): Promise<void> {
  if (vm.pool === 'shared') return;
  const count = await store.snapshots.count(vm.id);
  if (count > 0) {
    throw new DomainError(
      'VM_HAS_SNAPSHOTS',
      `VM '${vm.name}' has ${count} snapshot(s) in its local disk, which a migration would lose: delete them first`,
      { snapshots: count },
    );
  }
  if (vm.baseVm !== undefined && vm.baseVm !== null) {
    throw new DomainError(
      'MIGRATION_NOT_POSSIBLE',
      `VM '${vm.name}' is a linked clone: its disk reads its template's disk, which is on this host only`,
      { baseVm: vm.baseVm },
    );
  }
  if (vm.template === true) {
    const clones = await store.snapshots.linkedClones(vm.id);
    if (clones.length > 0) {
      throw new DomainError(
        'TEMPLATE_IN_USE',
        `template '${vm.name}' has linked clones reading its disk on this host: ${clones.join(', ')}`,
        { clones },
      );
    }
  }
}

/**
 * VM_HAS_SNAPSHOTS when the VM has snapshots: its size and devices must stay those the snapshots
 * were taken with (a memory snapshot loads only into the same machine, a disk snapshot has the
 * disk's size then).
 */
export async function refuseWithSnapshots(store: Store, vm: Vm, what: string): Promise<void> {
  const count = await store.snapshots.count(vm.id);
  if (count > 0) {
    throw new DomainError(
      'VM_HAS_SNAPSHOTS',
      `VM '${vm.name}' has ${count} snapshot(s): cannot ${what} it until they are deleted`,
      { snapshots: count },
    );
  }
}

/** VM_IS_TEMPLATE: templates are immutable and never run. */
export function refuseTemplate(vm: Vm, what: string): void {
  if (vm.template === true) {
    throw new DomainError(
      'VM_IS_TEMPLATE',
      `VM '${vm.name}' is a template: cannot ${what} it (clone it instead)`,
      { vm: vm.name },
    );
  }
}

function settled(vm: Vm, what: string): (typeof SETTLED)[number] {
  const state = SETTLED.find((s) => s === vm.state);
  if (state === undefined) {
    throw new DomainError(
      'VM_INVALID_STATE',
      `cannot ${what} VM '${vm.name}' while it is ${vm.state}`,
      {
        state: vm.state,
        allowed: SETTLED,
      },
    );
  }
  return state;
}

function target(vm: Vm) {
  return { type: 'vm' as const, id: vm.id, name: vm.name, project: vm.project };
}

function seconds(started: number): number {
  return Math.round(performance.now() - started) / 1000;
}
