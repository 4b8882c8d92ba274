import type {
  AgentVmSpec,
  AgentVmStatus,
  Host,
  Image,
  Operation,
  Vm,
  VmAction,
  VmCreate,
} from '@novacron/api';
import { assertActionAllowed, assertValidName, DomainError, targetStateOf } from '@novacron/domain';
import { DEFAULT_PROJECT, type Store } from '@novacron/store';
import type { HostService } from './hosts.js';
import type { OperationRunner } from './operations.js';

/** Machine type fixed per VM at creation so that it stays migratable across QEMU upgrades. */
export const DEFAULT_MACHINE_TYPE = 'pc-q35-7.2';
const DEFAULTS = { cpus: 1, memoryMiB: 256, diskGiB: 1 };

/** The VM use cases: validate, record, hand the work to an operation that drives the agent. */
export class VmService {
  constructor(
    private readonly store: Store,
    private readonly hosts: HostService,
    private readonly operations: OperationRunner,
  ) {}

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
    const host = await this.place(size, input.host);
    const start = input.start ?? true;
    const vm = await this.store.vms.create({
      name: input.name,
      project: projectName,
      imageId: image.id,
      hostId: host.id,
      state: 'creating',
      desiredState: start ? 'running' : 'stopped',
      ...size,
      kernelArgs: input.kernelArgs ?? '',
      labels: input.labels ?? {},
    });
    return this.operations.start('vm.create', target(vm), async (context) => {
      try {
        await context.phase('provisioning', 10);
        const { agent } = await this.hosts.agentOf(host.id);
        const status = await agent.ensureVm(specOf(vm, image));
        await this.observe(vm.id, status);
        return { vm: vm.id, state: status.state };
      } catch (error) {
        await this.markError(vm.id, error);
        throw error;
      }
    });
  }

  async act(idOrName: string, request: VmAction, project?: string): Promise<Operation> {
    const vm = await this.get(idOrName, project);
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
    await this.store.vms.update(
      vm.id,
      { state: transitional, desiredState, stateReason: null },
      vm.version,
    );
    return this.operations.start(`vm.${request.action}`, target(vm), async (context) => {
      await context.phase(request.action, 10);
      try {
        const status = await agent.changeState(vm.id, {
          action: request.action,
          ...(request.force === undefined ? {} : { force: request.force }),
          ...(request.timeoutSeconds === undefined
            ? {}
            : { timeoutSeconds: request.timeoutSeconds }),
        });
        await this.observe(vm.id, status);
        return { vm: vm.id, state: status.state, expected: targetStateOf(request.action) };
      } catch (error) {
        // The agent knows best what became of the guest; fall back to error with the reason.
        const status = await agent.listVms().then(
          (all) => all.find((s) => s.id === vm.id),
          () => undefined,
        );
        if (status === undefined) await this.markError(vm.id, error);
        else await this.observe(vm.id, status);
        throw error;
      }
    });
  }

  async delete(
    idOrName: string,
    options: { force?: boolean },
    project?: string,
  ): Promise<Operation> {
    const vm = await this.get(idOrName, project);
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
    const { agent } = await this.agentFor(vm);
    await this.store.vms.update(vm.id, { state: 'deleting' }, vm.version);
    return this.operations.start('vm.delete', target(vm), async (context) => {
      await context.phase('removing from host', 20);
      try {
        await agent.deleteVm(vm.id);
      } catch (error) {
        await this.markError(vm.id, error);
        throw error;
      }
      await this.store.vms.delete(vm.id);
      return { vm: vm.id };
    });
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

  private async agentFor(vm: Vm) {
    if (vm.host === null) {
      throw new DomainError('VM_INVALID_STATE', `VM '${vm.name}' is not placed on a host`);
    }
    return this.hosts.agentOf(vm.host);
  }

  /** Until the scheduler issue: the requested host, or the ready host with the most memory. */
  private async place(
    size: { cpus: number; memoryMiB: number },
    requested?: string,
  ): Promise<Host> {
    const candidates =
      requested === undefined ? await this.store.hosts.list() : [await this.requireHost(requested)];
    const reasons: Record<string, string> = {};
    const fits = candidates.filter((host) => {
      if (host.state !== 'ready') reasons[host.name] = `host is ${host.state}`;
      else if (size.cpus > host.cpus)
        reasons[host.name] = `${size.cpus} vCPUs asked, host has ${host.cpus}`;
      else if (size.memoryMiB > host.memoryMiB) {
        reasons[host.name] = `${size.memoryMiB} MiB asked, host has ${host.memoryMiB} MiB`;
      } else return true;
      return false;
    });
    const best = fits.sort((a, b) => b.memoryMiB - a.memoryMiB)[0];
    if (best === undefined) {
      const why = Object.entries(reasons)
        .map(([host, reason]) => `${host}: ${reason}`)
        .join('; ');
      throw new DomainError(
        'NO_HOST_FITS',
        `no host fits this VM${why === '' ? ' (no hosts)' : `: ${why}`}`,
        {
          hosts: reasons,
        },
      );
    }
    return best;
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

function target(vm: Vm) {
  return { type: 'vm' as const, id: vm.id, name: vm.name, project: vm.project };
}

function specOf(vm: Vm, image: Image): AgentVmSpec {
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
  };
}
