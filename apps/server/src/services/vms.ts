import type {
  AgentCloudInit,
  AgentVmSpec,
  AgentVmStatus,
  Host,
  Image,
  Operation,
  OperationKind,
  SchedulerExplainRequest,
  SchedulerExplanation,
  StoragePool,
  Vm,
  VmAction,
  VmCreate,
  VmPatch,
  VmPlacement,
} from '@novacron/api';
import {
  assertActionAllowed,
  assertValidCloudInit,
  assertValidName,
  cloudInitForVm,
  DomainError,
  isDomainError,
  mergeLabels,
  targetStateOf,
} from '@novacron/domain';
import {
  DEFAULT_PROJECT,
  isStaleVersionError,
  type Repositories,
  type Store,
  type VmChanges,
} from '@novacron/store';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import type { AgentPort, ConsoleKind } from '../agents/agent-client.js';
import { hardwareForSpec, headroomAtCreate } from './hardware.js';
import type { HostService } from './hosts.js';
import { cpuModelOf, DEFAULT_SCHEDULER_SETTINGS, SchedulerService } from './scheduler.js';
import { refuseTemplate, refuseWithSnapshots } from './snapshots.js';
import {
  cancelled,
  type OperationContext,
  type OperationRunner,
  type Recovery,
  type RecoveryPlan,
} from './operations.js';

/** Machine type fixed per VM at creation so that it stays migratable across QEMU upgrades. */
export const DEFAULT_MACHINE_TYPE = 'pc-q35-7.2';
const DEFAULTS = { cpus: 1, memoryMiB: 256, diskGiB: 1 };
/**
 * How long a resumed or rolled-back operation waits for its host after a server restart: the
 * local agent starts after the server, a remote one reconnects with its next heartbeat.
 */
const RECOVERY_HOST_WAIT_MS = 60_000;
/** Re-reads of a VM that changed under a patch or an action before giving up. */
const PATCH_ATTEMPTS = 5;

/** Migration has its own service and recovery (services/migrations.ts). */
type VmOperationKind = Exclude<
  Extract<OperationKind, `vm.${string}`>,
  // Resize and hotplug: services/hardware.ts; snapshots and clones: services/snapshots.ts.
  | 'vm.migrate'
  | 'vm.resize'
  | 'vm.device.add'
  | 'vm.device.remove'
  | 'vm.snapshot'
  | 'vm.snapshot.revert'
  | 'vm.snapshot.delete'
  | 'vm.clone'
>;

/**
 * What a restarted server does with a VM operation it finds unfinished, by kind and recorded
 * phase. In `started` the agent was not asked yet: undo the record. In the phase named after the
 * agent call: ask again (PUT ensure and state changes are idempotent), except a reboot, which must
 * not happen twice. Any other phase (e.g. `rolling back`) rolls back.
 */
export const VM_RECOVERY: Record<
  VmOperationKind,
  Readonly<Record<string, 'resume' | 'rollback'>>
> = {
  'vm.create': { started: 'rollback', provisioning: 'resume' },
  'vm.start': { started: 'rollback', start: 'resume' },
  'vm.stop': { started: 'rollback', stop: 'resume' },
  'vm.reboot': { started: 'rollback', reboot: 'rollback' },
  'vm.pause': { started: 'rollback', pause: 'resume' },
  'vm.resume': { started: 'rollback', resume: 'resume' },
  'vm.delete': { started: 'rollback', 'removing from host': 'resume' },
};

/** The VM use cases: validate, record, hand the work to an operation that drives the agent. */
export class VmService {
  constructor(
    private readonly store: Store,
    private readonly hosts: HostService,
    private readonly operations: OperationRunner,
    private readonly options: { defaultPool?: StoragePool; scheduler?: SchedulerService } = {},
  ) {
    this.scheduler = options.scheduler ?? new SchedulerService(store, DEFAULT_SCHEDULER_SETTINGS);
  }

  /** Where VMs go (services/scheduler.ts). */
  readonly scheduler: SchedulerService;

  async get(idOrName: string, project?: string): Promise<Vm> {
    const vm = await this.store.vms.get(project, idOrName);
    if (vm === undefined) {
      throw new DomainError('VM_NOT_FOUND', `VM '${idOrName}' not found`, { vm: idOrName });
    }
    return vm;
  }

  /** Checks everything before anything is stored, so bad input changes nothing. */
  async create(input: VmCreate): Promise<Operation> {
    const projectName = input.project ?? DEFAULT_PROJECT;
    assertValidName(input.name, 'VM name');
    const project = await this.store.projects.get(projectName);
    if (project === undefined) {
      throw new DomainError('PROJECT_NOT_FOUND', `project '${projectName}' not found`);
    }
    const image = await this.store.images.get(projectName, input.image);
    if (image === undefined) {
      throw new DomainError('IMAGE_NOT_FOUND', `image '${input.image}' not found`, {
        image: input.image,
      });
    }
    if (image.status !== 'ready') {
      throw new DomainError('IMAGE_NOT_READY', `image '${image.name}' is ${image.status}`, {
        image: image.name,
        status: image.status,
      });
    }
    const size = {
      cpus: input.cpus ?? DEFAULTS.cpus,
      memoryMiB: input.memoryMiB ?? DEFAULTS.memoryMiB,
      diskGiB: input.diskGiB ?? DEFAULTS.diskGiB,
    };
    await this.assertQuota(projectName, { ...size, vms: 1 });
    const headroom = headroomAtCreate(input, size);
    const placement = input.placement ?? {};
    assertPlacement(placement);
    if (input.cloudInit !== undefined) assertValidCloudInit(input.cloudInit);
    const requested = input.host === undefined ? undefined : await this.requireHost(input.host);
    const start = input.start ?? true;
    // The VM row and the claim on its host commit together: racing creates never overcommit.
    const { value: vm, reason } = await this.scheduler.placeAndCommit(
      {
        project: projectName,
        size,
        placement,
        ...(requested && { onlyHost: requested.id }),
      },
      async (tx, host) => {
        // Checked again under the project's lock: racing creates cannot both pass a quota.
        await tx.projects.lock(projectName);
        await this.assertQuota(projectName, { ...size, vms: 1 }, tx);
        const created = await tx.vms.create({
          name: input.name,
          project: projectName,
          imageId: image.id,
          hostId: host.id,
          state: 'creating',
          desiredState: start ? 'running' : 'stopped',
          ...size,
          kernelArgs: input.kernelArgs ?? '',
          labels: input.labels ?? {},
          description: input.description ?? '',
          restartPolicy: input.restartPolicy ?? 'never',
          pool: input.pool ?? this.options.defaultPool ?? 'local',
          placement,
        });
        if (input.cloudInit !== undefined) {
          await tx.cloudInit.put(created.id, cloudInitForVm(input.cloudInit, created));
        }
        if (headroom !== undefined) await tx.hardware.put(created.id, headroom);
        return created;
      },
    );
    return this.operations.start('vm.create', target(vm), (context) =>
      this.createWork(vm.id, context, reason),
    );
  }

  /** What a create of this size and placement would do, host by host (a dry run). */
  async explainPlacement(input: SchedulerExplainRequest): Promise<SchedulerExplanation> {
    const placement = input.placement ?? {};
    assertPlacement(placement);
    const requested = input.host === undefined ? undefined : await this.requireHost(input.host);
    return this.scheduler.explain({
      project: input.project ?? DEFAULT_PROJECT,
      size: {
        cpus: input.cpus ?? DEFAULTS.cpus,
        memoryMiB: input.memoryMiB ?? DEFAULTS.memoryMiB,
        diskGiB: input.diskGiB ?? DEFAULTS.diskGiB,
      },
      placement,
      ...(requested && { onlyHost: requested.id }),
    });
  }

  /**
   * Changes what a user may change. `cpus` and `memoryMiB` only while the VM is stopped (the host
   * gets the new spec at the next start); labels merge.
   */
  async patch(idOrName: string, patch: VmPatch, project?: string): Promise<Vm> {
    for (let attempt = 1; ; attempt++) {
      const vm = await this.get(idOrName, project);
      const resize = patch.cpus !== undefined || patch.memoryMiB !== undefined;
      if (resize) {
        refuseTemplate(vm, 'resize');
        await refuseWithSnapshots(this.store, vm, 'resize');
      }
      if (resize && vm.state !== 'stopped') {
        throw new DomainError(
          'VM_INVALID_STATE',
          `cannot change the size of VM '${vm.name}' while it is ${vm.state}: stop it first`,
          { state: vm.state, allowed: ['stopped'] },
        );
      }
      const growth = {
        cpus: (patch.cpus ?? vm.cpus) - vm.cpus,
        memoryMiB: (patch.memoryMiB ?? vm.memoryMiB) - vm.memoryMiB,
        diskGiB: 0,
        vms: 0,
      };
      if (resize) await this.assertQuota(vm.project, growth);
      if (resize && vm.host !== null) {
        await this.assertFits(vm.host, {
          cpus: patch.cpus ?? vm.cpus,
          memoryMiB: patch.memoryMiB ?? vm.memoryMiB,
        });
      }
      const changes: VmChanges = {
        ...(patch.labels === undefined ? {} : { labels: mergeLabels(vm.labels, patch.labels) }),
        ...(patch.description === undefined ? {} : { description: patch.description }),
        ...(patch.restartPolicy === undefined ? {} : { restartPolicy: patch.restartPolicy }),
        ...(patch.cpus === undefined ? {} : { cpus: patch.cpus }),
        ...(patch.memoryMiB === undefined ? {} : { memoryMiB: patch.memoryMiB }),
      };
      if (Object.keys(changes).length === 0) return vm;
      try {
        const updated = await this.store.transaction(async (tx) => {
          if (resize) {
            await tx.projects.lock(vm.project);
            await this.assertQuota(vm.project, growth, tx);
          }
          return tx.vms.update(vm.id, changes, vm.version);
        });
        if (updated === undefined) return this.get(vm.id);
        return updated;
      } catch (error) {
        // Someone else wrote the VM in between (an observation, an action): decide again.
        if (!isStaleVersionError(error) || attempt >= PATCH_ATTEMPTS) throw error;
      }
    }
  }

  async act(idOrName: string, request: VmAction, project?: string): Promise<Operation> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.actOn(await this.get(idOrName, project), request);
      } catch (error) {
        // An observation landed between our read and our write: look again.
        if (!isStaleVersionError(error) || attempt >= PATCH_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Restarts a VM whose QEMU ended while it should run (reconciliation), as a `vm.start`
   * operation, and counts the restart on the VM. Undefined when the VM is gone or no longer
   * stopped or in error (a user acted meanwhile).
   */
  async restart(vmId: string, at: Date): Promise<Operation | undefined> {
    const vm = await this.store.vms.get(undefined, vmId);
    if (vm === undefined || vm.desiredState !== 'running') return undefined;
    if (vm.state !== 'stopped' && vm.state !== 'error') return undefined;
    return this.actOn(
      vm,
      { action: 'start' },
      {
        restarts: vm.restarts + 1,
        lastRestartAt: at.toISOString(),
      },
    );
  }

  async delete(
    idOrName: string,
    options: { force?: boolean; keepDisks?: boolean },
    project?: string,
  ): Promise<Operation> {
    const vm = await this.get(idOrName, project);
    if (vm.state === 'migrating') {
      // Two hosts hold the guest until the migration ends: cancel it first.
      throw new DomainError(
        'VM_INVALID_STATE',
        `VM '${vm.name}' is migrating: cancel its migration first`,
        { state: vm.state },
      );
    }
    if (
      !options.force &&
      (vm.state === 'running' || vm.state === 'paused' || vm.state === 'starting')
    ) {
      throw new DomainError(
        'VM_INVALID_STATE',
        `VM '${vm.name}' is ${vm.state}: stop it first or use force`,
        {
          state: vm.state,
        },
      );
    }
    const clones = vm.template === true ? await this.store.snapshots.linkedClones(vm.id) : [];
    if (clones.length > 0) {
      throw new DomainError(
        'TEMPLATE_IN_USE',
        `template '${vm.name}' has linked clones whose disks read its disk: delete them first (${clones.join(', ')})`,
        { clones },
      );
    }
    const { agent } = await this.agentFor(vm);
    await this.store.vms.update(vm.id, { state: 'deleting' }, vm.version);
    const keepDisks = options.keepDisks === true;
    return this.operations.start('vm.delete', target(vm), (context) =>
      this.deleteWork(vm, agent, context, keepDisks),
    );
  }

  async consoleOutput(
    idOrName: string,
    tailBytes: number | undefined,
    project?: string,
  ): Promise<string> {
    const vm = await this.get(idOrName, project);
    const { agent } = await this.agentFor(vm);
    return agent.consoleOutput(vm.id, tailBytes);
  }

  /** A byte stream to the VM's serial port or VNC display, through its host's agent. */
  async openConsole(idOrName: string, kind: ConsoleKind, project?: string): Promise<WebSocket> {
    const vm = await this.get(idOrName, project);
    const { agent } = await this.agentFor(vm);
    if (agent.openConsole === undefined) {
      throw new DomainError('VM_INVALID_STATE', `the host of VM '${vm.name}' has no console`);
    }
    return agent.openConsole(vm.id, kind);
  }

  /** The recovery of each VM operation kind after a server restart (see VM_RECOVERY). */
  recoveryPlans(): Record<VmOperationKind, RecoveryPlan> {
    const plan =
      (kind: VmOperationKind): RecoveryPlan =>
      async (operation) => {
        const vm = await this.store.vms.get(undefined, operation.target.id);
        const decision = VM_RECOVERY[kind][operation.phase] ?? 'rollback';
        if (vm === undefined) {
          // Nothing left to drive: a create's row is gone, a delete got to its end.
          return kind === 'vm.delete' && decision === 'resume'
            ? { resume: () => Promise.resolve({ vm: operation.target.id }) }
            : { rollback: () => Promise.resolve('the VM no longer exists') };
        }
        return decision === 'resume'
          ? this.resumeOf(kind, vm, operation.metadata?.keepDisks === true)
          : this.rollbackOf(kind, vm, operation.phase);
      };
    return {
      'vm.create': plan('vm.create'),
      'vm.start': plan('vm.start'),
      'vm.stop': plan('vm.stop'),
      'vm.reboot': plan('vm.reboot'),
      'vm.pause': plan('vm.pause'),
      'vm.resume': plan('vm.resume'),
      'vm.delete': plan('vm.delete'),
    };
  }

  private resumeOf(kind: VmOperationKind, vm: Vm, keepDisks: boolean): Recovery {
    const action = kind.slice('vm.'.length) as VmAction['action'];
    return {
      resume: async (context) => {
        const agent = await this.reachableAgent(vm, context.signal);
        if (kind === 'vm.create') return this.createWork(vm.id, context);
        if (kind === 'vm.delete') return this.deleteWork(vm, agent, context, keepDisks);
        return this.actionWork(vm, { action }, agent, context);
      },
    };
  }

  private rollbackOf(kind: VmOperationKind, vm: Vm, phase: string): Recovery {
    if (kind === 'vm.create') {
      // Never sent to a host, or being undone: the record goes, and the host forgets the VM.
      return {
        rollback: async () => {
          if (phase !== 'started' && vm.host !== null) {
            await (await this.reachableAgent(vm)).deleteVm(vm.id);
          }
          await this.store.vms.delete(vm.id);
          return `VM ${vm.name} removed`;
        },
      };
    }
    return {
      rollback: async () => {
        const status = await this.resync(vm);
        return `VM ${vm.name} is ${status?.state ?? 'unknown'}, as its host reports`;
      },
    };
  }

  private async actOn(vm: Vm, request: VmAction, extra: VmChanges = {}): Promise<Operation> {
    refuseTemplate(vm, request.action);
    assertActionAllowed(request.action, vm.state);
    const { agent } = await this.agentFor(vm);
    const desiredState =
      request.action === 'stop'
        ? 'stopped'
        : request.action === 'start'
          ? 'running'
          : vm.desiredState;
    const transitional =
      request.action === 'start' ? 'starting' : request.action === 'stop' ? 'stopping' : vm.state;
    const updated =
      (await this.store.vms.update(
        vm.id,
        { state: transitional, desiredState, stateReason: null, ...extra },
        vm.version,
      )) ?? vm;
    return this.operations.start(`vm.${request.action}`, target(vm), (context) =>
      this.actionWork(updated, request, agent, context),
    );
  }

  private async createWork(
    vmId: string,
    context: OperationContext,
    placement?: string,
  ): Promise<Record<string, unknown>> {
    const vm = await this.get(vmId);
    if (placement !== undefined) await context.metadata({ host: vm.host, placement });
    if (context.signal.aborted) {
      await this.store.vms.delete(vm.id);
      throw cancelled('the VM was never sent to a host; its record is removed');
    }
    if (vm.host === null) throw new DomainError('VM_INVALID_STATE', `VM '${vm.name}' has no host`);
    let agent: AgentPort;
    try {
      await context.phase('provisioning', 10);
      agent = (await this.hosts.agentOf(vm.host)).agent;
      const status = await agent.ensureVm(await this.agentSpec(vm));
      await this.observe(vm.id, status);
      if (!context.signal.aborted) {
        return {
          vm: vm.id,
          state: status.state,
          ...(placement !== undefined && { host: vm.host, placement }),
        };
      }
    } catch (error) {
      await this.markError(vm.id, error);
      throw error;
    }
    await context.phase('rolling back', 90);
    await agent.deleteVm(vm.id);
    await this.store.vms.delete(vm.id);
    throw cancelled(`VM ${vm.name} removed from host ${vm.host}`);
  }

  /**
   * Drives one action on the agent. Start sends the whole spec (PUT ensure), so a size changed
   * while the VM was stopped takes effect. A cancelled start or stop undoes itself.
   */
  private async actionWork(
    vm: Vm,
    request: VmAction,
    agent: AgentPort,
    context: OperationContext,
  ): Promise<Record<string, unknown>> {
    const undoable = request.action === 'start' || request.action === 'stop';
    if (undoable && context.signal.aborted) {
      const status = await this.resync(vm);
      throw cancelled(`the host was not asked; VM ${vm.name} is ${status?.state ?? 'unknown'}`);
    }
    await context.phase(request.action, 10);
    let status: AgentVmStatus;
    try {
      status =
        request.action === 'start'
          ? await agent.ensureVm(await this.agentSpec({ ...vm, desiredState: 'running' }))
          : await agent.changeState(vm.id, {
              action: request.action,
              ...(request.force === undefined ? {} : { force: request.force }),
              ...(request.timeoutSeconds === undefined
                ? {}
                : { timeoutSeconds: request.timeoutSeconds }),
            });
      await this.observe(vm.id, status);
    } catch (error) {
      // The agent knows best what became of the guest; fall back to error with the reason.
      const observed = await agent.listVms().then(
        (all) => all.find((s) => s.id === vm.id),
        () => undefined,
      );
      if (observed === undefined) await this.markError(vm.id, error);
      else await this.observe(vm.id, observed);
      throw error;
    }
    if (undoable && context.signal.aborted) {
      await context.phase('rolling back', 90);
      const undone =
        request.action === 'start'
          ? await agent.changeState(vm.id, { action: 'stop', force: true })
          : await agent.ensureVm(await this.agentSpec({ ...vm, desiredState: 'running' }));
      await this.store.vms.update(vm.id, {
        state: undone.state,
        stateReason: undone.reason,
        desiredState: request.action === 'start' ? 'stopped' : 'running',
      });
      throw cancelled(`VM ${vm.name} is ${undone.state} again`);
    }
    return { vm: vm.id, state: status.state, expected: targetStateOf(request.action) };
  }

  private async deleteWork(
    vm: Vm,
    agent: AgentPort,
    context: OperationContext,
    keepDisks: boolean,
  ): Promise<Record<string, unknown>> {
    // Recorded first, so that a delete resumed after a server restart still keeps the disks.
    if (keepDisks) await context.metadata({ keepDisks: true });
    await context.phase('removing from host', 20);
    let answer;
    try {
      answer = await agent.deleteVm(vm.id, keepDisks ? { keepDisks } : {});
    } catch (error) {
      await this.markError(vm.id, error);
      throw error;
    }
    await this.store.vms.delete(vm.id);
    if (!keepDisks) return { vm: vm.id };
    if (!answer) {
      throw new DomainError(
        'AGENT_ERROR',
        `the agent of host ${vm.host ?? '?'} does not keep disks (an older version): VM ${vm.name} is deleted and its disk may be gone`,
        { host: vm.host },
      );
    }
    return { vm: vm.id, host: vm.host, keptDisks: answer.keptDisks };
  }

  /**
   * Records what the host reports of the VM, and makes that what is wanted: used when an action
   * is undone before it reached the host. Undefined (VM marked unknown) when the host is silent.
   */
  private async resync(vm: Vm): Promise<AgentVmStatus | undefined> {
    let status: AgentVmStatus | undefined;
    try {
      const agent = await this.reachableAgent(vm);
      status = (await agent.listVms()).find((s) => s.id === vm.id);
    } catch {
      status = undefined;
    }
    if (status === undefined) {
      await this.store.vms.update(vm.id, {
        state: 'unknown',
        stateReason: 'its host did not report it after an interrupted operation',
      });
      return undefined;
    }
    const running = status.state === 'running' || status.state === 'paused';
    await this.store.vms.update(vm.id, {
      state: status.state,
      stateReason: status.reason,
      desiredState: running ? 'running' : 'stopped',
    });
    return status;
  }

  /**
   * The VM's agent once it answers: after a server restart its host may not be back yet. Gives
   * up with HOST_UNREACHABLE after RECOVERY_HOST_WAIT_MS, or at once when `signal` is aborted.
   */
  private async reachableAgent(vm: Vm, signal?: AbortSignal): Promise<AgentPort> {
    const deadline = performance.now() + RECOVERY_HOST_WAIT_MS;
    for (;;) {
      // Looked up each time: a host that comes back may answer at a new address.
      const { agent } = await this.agentFor(vm);
      try {
        await agent.listVms();
        return agent;
      } catch (error) {
        const unreachable = isDomainError(error) && error.code === 'HOST_UNREACHABLE';
        if (unreachable && signal?.aborted) {
          throw cancelled(`while waiting for host ${vm.host ?? ''}; nothing was done`);
        }
        if (!unreachable || performance.now() >= deadline) throw error;
      }
      await sleep(500);
    }
  }

  private async imageOf(vm: Vm): Promise<Image> {
    const image = await this.store.images.get(vm.project, vm.imageId);
    if (image === undefined) {
      throw new DomainError('IMAGE_NOT_FOUND', `image '${vm.image}' of VM '${vm.name}' is gone`, {
        image: vm.image,
      });
    }
    return image;
  }

  private async agentFor(vm: Vm) {
    if (vm.host === null) {
      throw new DomainError('VM_INVALID_STATE', `VM '${vm.name}' is not placed on a host`);
    }
    return this.hosts.agentOf(vm.host);
  }

  /**
   * Until the scheduler issue: the requested host, or the ready host with the most memory. A
   * disabled or cordoned host takes no new VM; NO_HOST_FITS says why each host was passed over.
   */
  /** What the VM's host is told to run (the image as the store knows it now). */
  async agentSpec(vm: Vm): Promise<AgentVmSpec> {
    const [image, cloudInit, stored] = await Promise.all([
      this.imageOf(vm),
      this.store.cloudInit.get(vm.id),
      this.store.hardware.get(vm.id),
    ]);
    const hardware = hardwareForSpec(vm, stored);
    return { ...specOf(vm, image, cloudInit), ...(hardware !== undefined && { hardware }) };
  }

  /**
   * The host a VM moves to: the one asked for, or the scheduler's choice among the others, by the
   * rules the VM was created with; a running VM keeps its CPU model.
   */
  async placeElsewhere(vm: Vm, requested?: string): Promise<Host> {
    const requestedHost = requested === undefined ? undefined : await this.requireHost(requested);
    const current = vm.host === null ? undefined : await this.store.hosts.get(vm.host);
    if (requestedHost !== undefined && requestedHost.id === current?.id) {
      throw new DomainError(
        'MIGRATION_NOT_POSSIBLE',
        `VM ${vm.name} already runs on ${requestedHost.name}`,
        { host: requestedHost.name },
      );
    }
    const live = vm.state === 'running' || vm.state === 'paused';
    const cpuModel = live && current !== undefined ? cpuModelOf(current) : undefined;
    const decision = await this.scheduler.choose({
      project: vm.project,
      size: { cpus: vm.cpus, memoryMiB: vm.memoryMiB, diskGiB: vm.diskGiB },
      placement: vm.placement,
      vmId: vm.id,
      ...(requestedHost && { onlyHost: requestedHost.id }),
      ...(current && { excludeHosts: [current.id] }),
      ...(cpuModel !== undefined && { cpuModel }),
    });
    return decision.host;
  }

  /**
   * QUOTA_EXCEEDED when adding `delta` to what the project's VMs hold passes one of its quotas.
   * Race-free only inside a transaction that holds the project's lock (`repos` is then its own).
   */
  async assertQuota(
    projectName: string,
    delta: { cpus: number; memoryMiB: number; diskGiB: number; vms: number },
    repos: Repositories = this.store,
  ): Promise<void> {
    const project = await repos.projects.get(projectName);
    if (project === undefined) return;
    const { quotas } = project;
    const checks = [
      ['vCPUs', quotas.maxVcpus, delta.cpus, 'vcpus'],
      ['MiB of memory', quotas.maxMemoryMiB, delta.memoryMiB, 'memoryMiB'],
      ['GiB of disk', quotas.maxDiskGiB, delta.diskGiB, 'diskGiB'],
      ['VMs', quotas.maxVms, delta.vms, 'vms'],
    ] as const;
    if (checks.every(([, limit, more]) => limit === null || more <= 0)) return;
    const usage = await repos.projects.usage(projectName);
    for (const [what, limit, more, key] of checks) {
      if (limit === null || more <= 0) continue;
      if (usage[key] + more > limit) {
        throw new DomainError(
          'QUOTA_EXCEEDED',
          `project '${projectName}' allows ${limit} ${what}; it uses ${usage[key]} and this asks ${more} more`,
          { project: projectName, quota: key, limit, used: usage[key], requested: more },
        );
      }
    }
  }

  /** A resize must still fit the VM's host; whether the host takes new VMs does not matter. */
  private async assertFits(
    hostIdOrName: string,
    size: { cpus: number; memoryMiB: number },
  ): Promise<void> {
    const host = await this.requireHost(hostIdOrName);
    const why = sizeReason(host, size);
    if (why !== undefined) {
      throw new DomainError('NO_HOST_FITS', `the VM would not fit host ${host.name}: ${why}`, {
        hosts: { [host.name]: why },
      });
    }
  }

  private async requireHost(idOrName: string): Promise<Host> {
    const host = await this.store.hosts.get(idOrName);
    if (host === undefined) throw new DomainError('HOST_NOT_FOUND', `host '${idOrName}' not found`);
    return host;
  }

  private async observe(vmId: string, status: AgentVmStatus): Promise<void> {
    await this.store.vms.update(vmId, { state: status.state, stateReason: status.reason });
  }

  private async markError(vmId: string, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    await this.store.vms
      .update(vmId, { state: 'error', stateReason: message })
      .catch(() => undefined);
  }
}

function sizeReason(host: Host, size: { cpus: number; memoryMiB: number }): string | undefined {
  if (size.cpus > host.cpus) return `${size.cpus} vCPUs asked, host has ${host.cpus}`;
  if (size.memoryMiB > host.memoryMiB) {
    return `${size.memoryMiB} MiB asked, host has ${host.memoryMiB} MiB`;
  }
  return undefined;
}

/** Group rules need a group; a group needs no rule (it then only counts its members). */
function assertPlacement(placement: VmPlacement): void {
  if (placement.group === undefined && (placement.affinity ?? placement.antiAffinity)) {
    throw new DomainError(
      'VALIDATION_FAILED',
      'affinity and anti-affinity apply to a group: name one with `group`',
      { placement },
    );
  }
}

function target(vm: Vm) {
  return { type: 'vm' as const, id: vm.id, name: vm.name, project: vm.project };
}

function specOf(vm: Vm, image: Image, cloudInit?: AgentCloudInit): AgentVmSpec {
  return {
    id: vm.id,
    name: vm.name,
    cpus: vm.cpus,
    memoryMiB: vm.memoryMiB,
    diskGiB: vm.diskGiB,
    image: {
      id: image.id,
      name: image.name,
      kind: image.kind,
      sha256: image.sha256,
      defaultKernelArgs: image.defaultKernelArgs,
    },
    kernelArgs: vm.kernelArgs,
    machineType: DEFAULT_MACHINE_TYPE,
    desiredState: vm.desiredState,
    pool: vm.pool,
    ...(cloudInit !== undefined && { cloudInit }),
  };
}
