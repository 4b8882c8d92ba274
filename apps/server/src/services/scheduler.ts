import type { Host, SchedulerExplanation, SchedulerPolicy, VmPlacement } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { DEFAULT_CPU_MODEL } from '@novacron/qemu';
import {
  HostIndex,
  type ClusterSnapshot,
  type GroupRule,
  type HostSnapshot,
  type Overcommit,
  type PlaceOptions,
  type PlacementRequest,
  type Resources,
} from '@novacron/scheduler';
import { isStaleVersionError, type Repositories, type Store } from '@novacron/store';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MetricsService } from './metrics.js';

/** Until configured: spread, vCPUs overcommitted 4x, memory and disk not (packages/config defaults). */
export const DEFAULT_SCHEDULER_SETTINGS: SchedulerSettings = {
  policy: 'spread',
  overcommit: { cpu: 4, memory: 1, disk: 1 },
};

/**
 * Decisions retried when another placement committed on the chosen host first. Every round of a
 * race commits at least one decider, so N racing creates need at most N rounds.
 */
const COMMIT_ATTEMPTS = 200;

export interface SchedulerSettings {
  /** The cluster's policy (setting `schedulerPolicy`). */
  policy: SchedulerPolicy;
  overcommit: Overcommit;
  /** Feasible hosts scored per decision. */
  sample?: number;
}

/** What to place: a size and its rules, in a project, with hosts it must or must not take. */
export interface PlacementInput {
  project: string;
  size: Resources;
  placement: VmPlacement;
  /** Only this host (id). */
  onlyHost?: string;
  /** Never these hosts (ids). */
  excludeHosts?: readonly string[];
  /** The CPU model the VM's guest already sees (a running VM that moves keeps it). */
  cpuModel?: string;
  /** A VM that is being placed again: its own allocation does not count against the hosts. */
  vmId?: string;
}

export interface Decision {
  host: Host;
  /** One line for the operation record. */
  reason: string;
}

/** A placement decided on a snapshot no longer holds: another one committed on that host first. */
export class PlacementConflict extends Error {
  override readonly name = 'PlacementConflict';
}

/**
 * The server side of placement (ARCHITECTURE §2): builds a snapshot of the cluster from the store
 * (hosts, what each VM takes, group rules) and the agents' measured load, asks the pure
 * scheduler, and commits the decision with a version check on the host (store `hosts.claim`) in
 * the transaction that writes the VM; a stale snapshot is decided again. Explanations are built
 * on demand only (dry runs, NO_HOST_FITS).
 */
export class SchedulerService {
  private cursor = 0;

  constructor(
    private readonly store: Store,
    private readonly settings: SchedulerSettings,
    private readonly metrics?: MetricsService,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Chooses a host and runs `commit` with it in one transaction that first claims the host at the
   * version the decision saw; retries on a conflict. Throws NO_HOST_FITS with the explanation.
   */
  async placeAndCommit<T>(
    input: PlacementInput,
    commit: (tx: Repositories, host: Host, reason: string) => Promise<T>,
  ): Promise<{ value: T; host: Host; reason: string }> {
    for (let attempt = 1; ; attempt++) {
      const { decision, version } = await this.decide(input);
      try {
        const value = await this.store.transaction(async (tx) => {
          if (!(await tx.hosts.claim(decision.host.id, version))) {
            throw new PlacementConflict(`host ${decision.host.name} changed since the snapshot`);
          }
          return commit(tx, decision.host, decision.reason);
        });
        return { value, ...decision };
      } catch (error) {
        const conflict = error instanceof PlacementConflict || isStaleVersionError(error);
        if (!conflict || attempt >= COMMIT_ATTEMPTS) throw error;
        // A little jitter, so the losers of one round do not meet again in the next.
        await sleep(Math.floor(this.random() * Math.min(attempt, 10)));
      }
    }
  }

  /** Chooses a host without committing anything (a migration target, checked again at its start). */
  async choose(input: PlacementInput): Promise<Decision> {
    return (await this.decide(input)).decision;
  }

  /** Which filter removed each host and how each candidate scored. */
  async explain(input: PlacementInput): Promise<SchedulerExplanation> {
    const { snapshot, hosts } = await this.snapshot(input);
    return new HostIndex(snapshot).explain(this.request(input, hosts), this.options());
  }

  /**
   * Targets for several VMs at once, each decision counting the ones before it (a drain moves
   * VMs concurrently; none of them lands in the store before its switch-over).
   */
  async planMoves(inputs: readonly PlacementInput[]): Promise<(Decision | DomainError)[]> {
    const first = inputs[0];
    if (first === undefined) return [];
    const { snapshot, hosts } = await this.snapshot(first);
    const index = new HostIndex(snapshot);
    return inputs.map((input) => {
      const request = this.request(input, hosts);
      const placed = index.place(request, this.options());
      if (placed.kind === 'no-fit') {
        return noHostFits(placed.reason, index.explain(request, this.options()));
      }
      index.assign(placed.index, request);
      const host = hosts.find((h) => h.id === placed.host.id) as Host;
      return { host, reason: placed.reason };
    });
  }

  private async decide(input: PlacementInput): Promise<{ decision: Decision; version: number }> {
    const { snapshot, hosts, versions } = await this.snapshot(input);
    const index = new HostIndex(snapshot);
    const request = this.request(input, hosts);
    const placed = index.place(request, this.options());
    if (placed.kind === 'no-fit') {
      throw noHostFits(placed.reason, index.explain(request, this.options()));
    }
    this.cursor++;
    const host = hosts.find((h) => h.id === placed.host.id) as Host;
    return {
      decision: { host, reason: placed.reason },
      version: versions.get(host.id) ?? 0,
    };
  }

  private options(): PlaceOptions {
    return {
      defaultPolicy: this.settings.policy,
      random: this.random,
      cursor: this.cursor,
      ...(this.settings.sample === undefined ? {} : { sample: this.settings.sample }),
    };
  }

  private request(input: PlacementInput, hosts: readonly Host[]): PlacementRequest {
    const { placement } = input;
    const hostIds = new Set(hosts.map((h) => h.id));
    return {
      size: input.size,
      ...(placement.policy && { policy: placement.policy }),
      ...(placement.group && { group: groupKey(input.project, placement.group) }),
      ...(placement.affinity && { affinity: placement.affinity }),
      ...(placement.antiAffinity && { antiAffinity: placement.antiAffinity }),
      ...(placement.selector && { selector: placement.selector }),
      ...(input.cpuModel && { cpuModel: input.cpuModel }),
      // A requested host that is not in the snapshot fits nowhere (it was checked to exist).
      ...(input.onlyHost !== undefined && {
        onlyHosts: hostIds.has(input.onlyHost) ? [input.onlyHost] : [],
      }),
      ...(input.excludeHosts && { excludeHosts: input.excludeHosts }),
    };
  }

  private async snapshot(input: PlacementInput): Promise<{
    snapshot: ClusterSnapshot;
    hosts: Host[];
    versions: Map<string, number>;
  }> {
    // Versions first: a placement committed after this read bumps one, so the claim fails.
    const versions = await this.store.hosts.versions();
    const [hosts, allocations] = await Promise.all([
      this.store.hosts.list(),
      this.store.vms.allocations(),
    ]);
    const byHost = new Map<string, { allocated: Resources; groups: Record<string, number> }>();
    const groups: Record<string, GroupRule> = {};
    for (const vm of allocations) {
      if (vm.id === input.vmId) continue;
      let entry = byHost.get(vm.hostId);
      if (entry === undefined) {
        entry = { allocated: { cpus: 0, memoryMiB: 0, diskGiB: 0 }, groups: {} };
        byHost.set(vm.hostId, entry);
      }
      entry.allocated.cpus += vm.cpus;
      entry.allocated.memoryMiB += vm.memoryMiB;
      entry.allocated.diskGiB += vm.diskGiB;
      const group = vm.placement.group;
      if (group !== undefined) {
        const key = groupKey(vm.project, group);
        entry.groups[key] = (entry.groups[key] ?? 0) + 1;
        const rule = (groups[key] ??= {});
        const affinity = strongest(rule.affinity, vm.placement.affinity);
        const antiAffinity = strongest(rule.antiAffinity, vm.placement.antiAffinity);
        if (affinity) rule.affinity = affinity;
        if (antiAffinity) rule.antiAffinity = antiAffinity;
      }
    }
    const snapshotHosts: HostSnapshot[] = hosts.map((host) => {
      const entry = byHost.get(host.id);
      const load = this.loadOf(host.id);
      return {
        id: host.id,
        name: host.name,
        state: host.state,
        cordoned: host.cordoned,
        maintenance: host.maintenance,
        capacity: { cpus: host.cpus, memoryMiB: host.memoryMiB },
        allocated: entry?.allocated ?? { cpus: 0, memoryMiB: 0, diskGiB: 0 },
        labels: host.labels,
        ...(host.accelerator !== null && { cpuModel: cpuModelOf(host) }),
        ...(load && { load }),
        groups: entry?.groups ?? {},
      };
    });
    return {
      snapshot: { hosts: snapshotHosts, overcommit: this.settings.overcommit, groups },
      hosts,
      versions,
    };
  }

  /** The host's latest measured use, 0..1 (load-aware scoring). */
  private loadOf(hostId: string): { cpu?: number; memory?: number } | undefined {
    const sample = this.metrics?.hostSamples(hostId).at(-1);
    if (sample === undefined) return undefined;
    const memory =
      sample.memoryUsedBytes !== undefined && sample.memoryTotalBytes
        ? sample.memoryUsedBytes / sample.memoryTotalBytes
        : undefined;
    return {
      ...(sample.cpuPercent !== undefined && { cpu: sample.cpuPercent / 100 }),
      ...(memory !== undefined && { memory }),
    };
  }
}

/** The CPU model guests on `host` see (its accelerator decides it; a VM that moves keeps it). */
export function cpuModelOf(host: Host): string | undefined {
  return host.accelerator === null ? undefined : DEFAULT_CPU_MODEL[host.accelerator];
}

function strongest(a?: 'hard' | 'soft', b?: 'hard' | 'soft'): 'hard' | 'soft' | undefined {
  return a === 'hard' || b === 'hard' ? 'hard' : (a ?? b);
}

/** Groups are per project. */
function groupKey(project: string, group: string): string {
  return `${project}/${group}`;
}

/**
 * NO_HOST_FITS with the explanation; `details.hosts` maps each removed host to its reason, the
 * shape the error had before the scheduler.
 */
function noHostFits(reason: string, explanation: SchedulerExplanation): DomainError {
  const hosts = Object.fromEntries(
    explanation.filters.flatMap((f) => f.removed.map((r) => [r.host, r.reason] as const)),
  );
  return new DomainError('NO_HOST_FITS', `${reason}${summary(explanation)}`, {
    hosts,
    explanation,
  });
}

/** The first few removals, for the error message (the details carry them all). */
function summary(explanation: SchedulerExplanation): string {
  const reasons = explanation.filters.flatMap((f) =>
    f.removed.map((r) => `${r.host}: ${r.reason}`),
  );
  if (reasons.length === 0) return '';
  const shown = reasons.slice(0, 5).join('; ');
  return ` (${shown}${reasons.length > 5 ? `; ${reasons.length - 5} more` : ''})`;
}
