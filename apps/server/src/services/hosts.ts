import type { AgentVmStatus, ClusterHeartbeat, Host, Vm } from '@novacron/api';
import { DomainError, type Clock } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';
import type { AgentPort } from '../agents/agent-client.js';

/** VM states owned by an operation in flight: heartbeats leave them to it. */
const TRANSITIONAL = new Set(['creating', 'starting', 'stopping', 'deleting', 'migrating']);

export interface HostServiceOptions {
  /** A host without a heartbeat for this long is unreachable and its VMs unknown. */
  hostTimeoutSeconds?: number;
}

/**
 * Knows every host's agent and keeps hosts and their VMs' observed state current from the
 * agents' heartbeats; a sweep marks a host unreachable (and its VMs unknown) when its heartbeats
 * stop, and the next heartbeat restores both (docs/adr/0008-cluster-trust.md).
 */
export class HostService {
  private readonly agents = new Map<string, { url: string; port: AgentPort }>();
  private readonly timeoutMs: number;
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /** Told of every observation of a VM, for reconciliation (services/reconciler.ts). */
  onObserved:
    ((vm: Vm, observed: { state: Vm['state']; reason: string | null }) => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Makes the client of one host's agent API (mutual TLS; server.ts). */
    private readonly connect: (agentUrl: string, hostName: string) => AgentPort = unreachable,
    options: HostServiceOptions = {},
  ) {
    this.timeoutMs = (options.hostTimeoutSeconds ?? 15) * 1000;
    this.startedAt = clock.now().getTime();
  }

  /**
   * One heartbeat of the host `hostName` (from its certificate, never from the body): registers
   * the host or refreshes its facts, brings it back from unreachable, records liveness, and takes
   * every VM's observed state from the report.
   */
  async heartbeat(hostName: string, beat: ClusterHeartbeat): Promise<Host> {
    let host = await this.hostByName(hostName);
    if (host === undefined || factsChanged(host, beat)) {
      host = await this.store.hosts.upsert({
        name: hostName,
        agentUrl: beat.agentUrl,
        cpus: beat.host.cpus,
        memoryMiB: beat.host.memoryMiB,
        accelerator: beat.host.accelerator,
        acceleratorReason: beat.host.acceleratorReason,
        qemuVersion: beat.host.qemuVersion,
      });
      this.logger.info({ host: hostName, agentUrl: beat.agentUrl }, 'host registered');
    }
    if (host.state === 'unreachable') {
      this.logger.info({ host: hostName }, 'host heartbeats again');
      host = (await this.store.hosts.setState(host.id, 'ready')) ?? host;
    }
    host = (await this.store.hosts.recordHeartbeat(host.id, this.clock.now())) ?? host;
    const byId = new Map(beat.vms.map((status) => [status.id, status]));
    const mine = await this.markVms(host.name, (vmId) => {
      const status = byId.get(vmId);
      return status === undefined
        ? { state: 'unknown', reason: `host ${hostName} does not know this VM` }
        : { state: status.state, reason: status.reason };
    });
    const leftovers = beat.vms.filter((s) => s.state === 'migrating' && !mine.has(s.id));
    if (leftovers.length > 0) void this.dropLeftovers(host.name, leftovers);
    return host;
  }

  /**
   * A host reports a VM migrating that the store keeps elsewhere and no migration moves: the
   * remains of one that ended while this host could not be told (a link cut, an agent restart).
   * A source that handed the guest over is retired; a target still waiting is removed. Neither
   * holds the running guest, and the agent refuses both calls on a QEMU that does.
   */
  private async dropLeftovers(hostName: string, leftovers: AgentVmStatus[]): Promise<void> {
    for (const status of leftovers) {
      try {
        const vm = await this.store.vms.get(undefined, status.id);
        if (vm?.state === 'migrating' || vm?.host === hostName) continue;
        const { agent } = await this.agentOf(hostName);
        const retired = await agent.migrationComplete(status.id).then(
          () => true,
          () => false,
        );
        if (!retired) await agent.migrationAbort(status.id);
        this.logger.warn(
          { host: hostName, vmId: status.id, retired },
          'removed what an ended migration left on this host',
        );
      } catch (error) {
        this.logger.warn({ host: hostName, vmId: status.id, err: error }, 'leftover not removed');
      }
    }
  }

  /** The agent of a host by name or id. */
  async agentOf(hostIdOrName: string): Promise<{ host: Host; agent: AgentPort }> {
    const host = await this.store.hosts.get(hostIdOrName);
    if (host === undefined) {
      throw new DomainError('HOST_NOT_FOUND', `host '${hostIdOrName}' not found`, {
        host: hostIdOrName,
      });
    }
    let agent = this.agents.get(host.id);
    if (agent === undefined || agent.url !== host.agentUrl) {
      agent?.port.close?.();
      agent = { url: host.agentUrl, port: this.connect(host.agentUrl, host.name) };
      this.agents.set(host.id, agent);
    }
    return { host, agent: agent.port };
  }

  /** Starts sweeping for hosts whose heartbeats stopped, every `intervalMs`. */
  startMonitor(intervalMs = Math.max(250, Math.min(1000, this.timeoutMs / 4))): void {
    const tick = () => {
      this.sweeping = this.sweep()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'host sweep failed'))
        .finally(() => {
          this.sweeping = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  async stopMonitor(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.sweeping;
    for (const agent of this.agents.values()) agent.port.close?.();
    this.agents.clear();
  }

  /**
   * One pass: a host whose last heartbeat is older than the timeout is marked unreachable and
   * its VMs unknown (never silently lost). Heartbeats from before this server started count from
   * its start, so a restart does not mark every host at once.
   */
  async sweep(): Promise<void> {
    const now = this.clock.now().getTime();
    for (const host of await this.store.hosts.list()) {
      const last = Math.max(
        host.lastHeartbeatAt === null ? 0 : Date.parse(host.lastHeartbeatAt),
        this.startedAt,
      );
      if (now - last <= this.timeoutMs) continue;
      // A disabled host keeps showing disabled; its VMs still become unknown.
      if (host.state === 'ready') {
        this.logger.warn(
          { host: host.name, lastHeartbeatAt: host.lastHeartbeatAt },
          'host unreachable: no heartbeat',
        );
        await this.store.hosts.setState(host.id, 'unreachable');
      }
      const since = host.lastHeartbeatAt ?? 'it registered';
      await this.markVms(host.name, () => ({
        state: 'unknown',
        reason: `host ${host.name} is unreachable: no heartbeat since ${since}`,
      }));
    }
  }

  private async hostByName(name: string): Promise<Host | undefined> {
    const host = await this.store.hosts.get(name);
    // get() tries ids first: a host whose id happens to equal this name is another host.
    return host?.name === name ? host : undefined;
  }

  /** Records what the host observed of each VM it holds; answers their ids. */
  private async markVms(
    hostName: string,
    observe: (vmId: string) => { state: AgentVmStatus['state']; reason: string | null },
  ): Promise<Set<string>> {
    const page = await this.store.vms.list({ host: hostName, limit: 1000 });
    for (const vm of page.items) {
      if (TRANSITIONAL.has(vm.state)) continue;
      const { state, reason } = observe(vm.id);
      // Only a migrate operation marks a VM migrating: a heartbeat read before its rollback
      // would otherwise leave the VM migrating for good (heartbeats skip that state).
      if (state === 'migrating') continue;
      this.onObserved?.(vm, { state, reason });
      if (vm.state === state && vm.stateReason === reason) continue;
      try {
        await this.store.vms.update(vm.id, { state, stateReason: reason }, vm.version);
      } catch {
        // Changed meanwhile (an operation started): the next heartbeat looks again.
      }
    }
    return new Set(page.items.map((vm) => vm.id));
  }
}

/** Without a way to call agents (tests that never do), every host is unreachable. */
function unreachable(_agentUrl: string, hostName: string): AgentPort {
  const fail = () =>
    Promise.reject(
      new DomainError('HOST_UNREACHABLE', `this server cannot call host ${hostName}`, {
        host: hostName,
      }),
    );
  return {
    hostInfo: fail,
    listVms: fail,
    ensureVm: fail,
    changeState: fail,
    deleteVm: fail,
    consoleOutput: fail,
    migrationIncoming: fail,
    migrationOutgoing: fail,
    migrationStatus: fail,
    migrationTune: fail,
    migrationPostcopy: fail,
    migrationMirror: fail,
    migrationSwitchover: fail,
    migrationDiskIncoming: fail,
    migrationDiskOutgoing: fail,
    migrationDiskDone: fail,
    migrationAbort: fail,
    migrationComplete: fail,
    dirtyRate: fail,
  };
}

function factsChanged(host: Host, beat: ClusterHeartbeat): boolean {
  return (
    host.agentUrl !== beat.agentUrl ||
    host.cpus !== beat.host.cpus ||
    host.memoryMiB !== beat.host.memoryMiB ||
    host.accelerator !== beat.host.accelerator ||
    host.acceleratorReason !== beat.host.acceleratorReason ||
    host.qemuVersion !== beat.host.qemuVersion
  );
}
