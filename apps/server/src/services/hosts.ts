import type { AgentVmStatus, Host, Vm } from '@novacron/api';
import { DomainError, type Clock } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';
import { HttpAgentClient, type AgentPort } from '../agents/agent-client.js';

/** VM states owned by an operation in flight: the monitor leaves them to it. */
const TRANSITIONAL = new Set(['creating', 'starting', 'stopping', 'deleting']);

/**
 * Knows every host's agent, registers hosts and keeps their VMs' observed state in the store
 * current by polling each agent (the agents' own heartbeats arrive with the control-plane issue).
 */
export class HostService {
  private readonly agents = new Map<string, AgentPort>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  /** Told of every observation of a VM, for reconciliation (services/reconciler.ts). */
  onObserved:
    | ((vm: Vm, observed: { state: Vm['state']; reason: string | null }) => void)
    | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly connect: (agentUrl: string, hostName: string) => AgentPort = (url, name) =>
      new HttpAgentClient(url, name),
  ) {}

  /** Registers (or refreshes) the host whose agent answers at `agentUrl`, from what it reports. */
  async register(agentUrl: string): Promise<Host> {
    const info = await this.connect(agentUrl, agentUrl).hostInfo();
    const host = await this.store.hosts.upsert({
      name: info.name,
      agentUrl,
      cpus: info.cpus,
      memoryMiB: info.memoryMiB,
      accelerator: info.accelerator,
      acceleratorReason: info.acceleratorReason,
      qemuVersion: info.qemuVersion,
    });
    await this.store.hosts.recordHeartbeat(host.id, this.clock.now());
    this.agents.set(host.id, this.connect(agentUrl, host.name));
    return (await this.store.hosts.get(host.id)) ?? host;
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
    if (agent === undefined) {
      agent = this.connect(host.agentUrl, host.name);
      this.agents.set(host.id, agent);
    }
    return { host, agent };
  }

  /** Starts polling every host's agent each `intervalMs`. */
  startMonitor(intervalMs: number): void {
    const tick = () => {
      this.polling = this.pollAll()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'host poll failed'))
        .finally(() => {
          this.polling = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  async stopMonitor(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** One pass over every host: observed VM states in, unreachable hosts marked. */
  async pollAll(): Promise<void> {
    for (const host of await this.store.hosts.list()) {
      const { agent } = await this.agentOf(host.id);
      let statuses: AgentVmStatus[];
      try {
        statuses = await agent.listVms();
      } catch (error) {
        if (host.state !== 'unreachable') {
          this.logger.warn({ host: host.name, err: error }, 'host unreachable');
          await this.store.hosts.setState(host.id, 'unreachable');
        }
        await this.markVms(host.name, () => ({
          state: 'unknown',
          reason: `host ${host.name} is unreachable`,
        }));
        continue;
      }
      if (host.state === 'unreachable') await this.store.hosts.setState(host.id, 'ready');
      await this.store.hosts.recordHeartbeat(host.id, this.clock.now());
      const byId = new Map(statuses.map((status) => [status.id, status]));
      await this.markVms(host.name, (vmId) => {
        const status = byId.get(vmId);
        return status === undefined
          ? { state: 'unknown', reason: `host ${host.name} does not know this VM` }
          : { state: status.state, reason: status.reason };
      });
    }
  }

  private async markVms(
    hostName: string,
    observe: (vmId: string) => { state: AgentVmStatus['state']; reason: string | null },
  ): Promise<void> {
    const page = await this.store.vms.list({ host: hostName, limit: 1000 });
    for (const vm of page.items) {
      if (TRANSITIONAL.has(vm.state)) continue;
      const { state, reason } = observe(vm.id);
      this.onObserved?.(vm, { state, reason });
      if (vm.state === state && vm.stateReason === reason) continue;
      try {
        await this.store.vms.update(vm.id, { state, stateReason: reason }, vm.version);
      } catch {
        // Changed meanwhile (an operation started): the next poll looks again.
      }
    }
  }
}
