import type { SchedulerExplanation, SchedulerPolicy } from '@novacron/api';
import {
  DEFAULT_SAMPLE,
  POLICY_WEIGHTS,
  SOFT_GROUP_WEIGHT,
  type ClusterSnapshot,
  type HostSnapshot,
  type NoFit,
  type Overcommit,
  type PlaceOptions,
  type Placement,
  type PlacementRequest,
  type Resources,
} from './model.js';

/** Host filters in the order they run; a host is removed by the first one it fails. */
export const HOST_FILTERS = [
  'state',
  'requested',
  'labels',
  'cpu-model',
  'affinity',
  'capacity',
] as const;
export type HostFilter = (typeof HOST_FILTERS)[number];
const PASS = -1;
const EPSILON = 1e-9;

/** A request with its group's rules folded in and its host lists turned into indices. */
interface Resolved {
  request: PlacementRequest;
  policy: SchedulerPolicy;
  weights: [string, number][];
  weightSum: number;
  selector: [string, string][];
  only: Set<number> | undefined;
  exclude: Set<number> | undefined;
  group: string | undefined;
  affinity: 'hard' | 'soft' | undefined;
  antiAffinity: 'hard' | 'soft' | undefined;
}

/**
 * The hosts of a snapshot, indexed for placement: by label (`key=value` -> hosts) and by group
 * (group -> hosts holding members, with counts). `place` scans candidates from a random start,
 * scores the first `sample` that fit and keeps scanning the rest only while none fit, so it
 * answers NO_HOST_FITS only after a complete search. `assign` records a placement, so one index
 * serves many decisions (the benchmark); the server builds a fresh one from each snapshot.
 */
export class HostIndex {
  private readonly hosts: HostSnapshot[];
  private readonly all: number[];
  private readonly byId = new Map<string, number>();
  private readonly byLabel = new Map<string, number[]>();
  private readonly groupHosts = new Map<string, Map<number, number>>();
  private readonly overcommit: Overcommit;
  private readonly snapshot: ClusterSnapshot;

  constructor(snapshot: ClusterSnapshot) {
    this.snapshot = snapshot;
    this.overcommit = snapshot.overcommit;
    // Own copies: assign() changes allocations and group counts.
    this.hosts = snapshot.hosts.map((host) => ({ ...host, allocated: { ...host.allocated } }));
    this.all = this.hosts.map((_, index) => index);
    this.hosts.forEach((host, index) => {
      this.byId.set(host.id, index);
      for (const [key, value] of Object.entries(host.labels)) {
        const bucket = this.byLabel.get(labelKey(key, value));
        if (bucket === undefined) this.byLabel.set(labelKey(key, value), [index]);
        else bucket.push(index);
      }
      for (const [group, count] of Object.entries(host.groups ?? {})) {
        if (count > 0) this.members(group).set(index, count);
      }
    });
  }

  get size(): number {
    return this.hosts.length;
  }

  host(index: number): HostSnapshot {
    const host = this.hosts[index];
    if (host === undefined) throw new RangeError(`no host at index ${index}`);
    return host;
  }

  /** Chooses a host for `request`, or says why none fits (details come from `explain`). */
  place(request: PlacementRequest, options: PlaceOptions): Placement {
    const resolved = this.resolve(request, options);
    const refused = this.refuseRequest(resolved);
    if (refused !== undefined) return { kind: 'no-fit', reason: refused };
    const candidates = this.candidates(resolved);
    const sample = Math.max(1, options.sample ?? DEFAULT_SAMPLE);
    const count = candidates.length;
    const start = count === 0 ? 0 : Math.floor(options.random() * count) % count;
    const removed = new Array<number>(HOST_FILTERS.length).fill(0);
    let best = -1;
    let bestScore = -Infinity;
    let feasible = 0;
    for (let step = 0; step < count && feasible < sample; step++) {
      const index = candidates[(start + step) % count] as number;
      const failed = this.check(index, resolved);
      if (failed !== PASS) {
        removed[failed] = (removed[failed] ?? 0) + 1;
        continue;
      }
      feasible++;
      const score = this.score(index, resolved, options.cursor ?? 0);
      // Ties go to the first host scanned from the random start: deciders racing on one
      // snapshot spread over equal hosts instead of all claiming the same one.
      if (score > bestScore + EPSILON) {
        best = index;
        bestScore = score;
      }
    }
    if (best < 0) {
      const outside = this.hosts.length - count;
      return { kind: 'no-fit', reason: noFitReason(removed, outside, resolved) };
    }
    const host = this.host(best);
    const of = feasible < sample ? `${feasible} that fit` : `a sample of ${feasible} that fit`;
    return {
      kind: 'placed',
      host,
      index: best,
      score: bestScore,
      scored: feasible,
      reason: `${resolved.policy}: ${host.name} scored ${bestScore.toFixed(3)}, best of ${of} out of ${this.hosts.length} hosts`,
    };
  }

  /** Records a VM of `request` on the host at `index` (its resources and group membership). */
  assign(index: number, request: PlacementRequest): void {
    const host = this.host(index);
    add(host.allocated, request.size);
    if (request.group !== undefined) {
      const members = this.members(request.group);
      members.set(index, (members.get(index) ?? 0) + 1);
    }
  }

  /** Members of `group` on the host at `index`. */
  membersOn(group: string, index: number): number {
    return this.groupHosts.get(group)?.get(index) ?? 0;
  }

  /**
   * Every host, each either removed by the first filter it fails (with the reason) or scored with
   * each scorer's value: what `place` decides over all hosts, spelled out. Not for the hot path.
   */
  explain(request: PlacementRequest, options: PlaceOptions): SchedulerExplanation {
    const resolved = this.resolve(request, options);
    const refused = this.refuseRequest(resolved);
    const filters = [...(refused === undefined ? [] : ['request']), ...HOST_FILTERS].map(
      (filter) => ({ filter, removed: [] as { host: string; reason: string }[] }),
    );
    const candidates: SchedulerExplanation['candidates'] = [];
    const exact: { score: number; index: number }[] = [];
    this.hosts.forEach((host, index) => {
      if (refused !== undefined) {
        filters[0]?.removed.push({ host: host.name, reason: refused });
        return;
      }
      const failed = this.check(index, resolved);
      if (failed !== PASS) {
        filters[failed]?.removed.push({
          host: host.name,
          reason: this.why(failed, index, resolved),
        });
        return;
      }
      const cursor = options.cursor ?? 0;
      const score = this.score(index, resolved, cursor);
      candidates.push({
        host: host.name,
        score: round(score),
        scores: this.breakdown(index, resolved, cursor),
      });
      exact.push({ score, index });
    });
    // Best score first; ties (which place() breaks at random) in host order.
    const ranked = candidates
      .map((candidate, i) => ({ candidate, ...(exact[i] ?? { score: 0, index: 0 }) }))
      .sort((a, b) =>
        Math.abs(a.score - b.score) <= EPSILON ? a.index - b.index : b.score - a.score,
      )
      .map(({ candidate }) => candidate);
    const chosen = ranked[0];
    const removedCounts = HOST_FILTERS.map((filter) => {
      return filters.find((f) => f.filter === filter)?.removed.length ?? 0;
    });
    return {
      policy: resolved.policy,
      hosts: this.hosts.length,
      filters: filters.filter((f) => f.removed.length > 0),
      candidates: ranked,
      chosen: chosen?.host ?? null,
      reason:
        chosen === undefined
          ? (refused ?? noFitReason(removedCounts, 0, resolved))
          : `${resolved.policy}: ${chosen.host} scored ${chosen.score.toFixed(3)}, best of ${ranked.length} that fit out of ${this.hosts.length} hosts`,
    };
  }

  private members(group: string): Map<number, number> {
    let members = this.groupHosts.get(group);
    if (members === undefined) {
      members = new Map();
      this.groupHosts.set(group, members);
    }
    return members;
  }

  private resolve(request: PlacementRequest, options: PlaceOptions): Resolved {
    const policy = request.policy ?? options.defaultPolicy;
    const rule = request.group === undefined ? undefined : this.snapshot.groups?.[request.group];
    const affinity =
      request.group === undefined ? undefined : strongest(request.affinity, rule?.affinity);
    const antiAffinity =
      request.group === undefined ? undefined : strongest(request.antiAffinity, rule?.antiAffinity);
    const weights: [string, number][] = Object.entries(POLICY_WEIGHTS[policy]);
    if (affinity === 'soft' || antiAffinity === 'soft') weights.push(['group', SOFT_GROUP_WEIGHT]);
    const ids = (list: readonly string[] | undefined) =>
      list === undefined
        ? undefined
        : new Set(list.map((id) => this.byId.get(id)).filter((i) => i !== undefined));
    return {
      request,
      policy,
      weights,
      weightSum: weights.reduce((sum, [, weight]) => sum + weight, 0),
      selector: Object.entries(request.selector ?? {}),
      only: ids(request.onlyHosts),
      exclude: ids(request.excludeHosts),
      group: request.group,
      affinity,
      antiAffinity,
    };
  }

  /** What no host can change: the project's quota, rules that contradict each other. */
  private refuseRequest(resolved: Resolved): string | undefined {
    const { group, affinity, antiAffinity } = resolved;
    if (group !== undefined && affinity === 'hard' && antiAffinity === 'hard') {
      const rule = this.snapshot.groups?.[group];
      const from = rule === undefined ? 'the request asks' : "the group's members were placed with";
      return `contradictory constraints: group ${displayGroup(group)} cannot be both together and apart (${from} hard affinity and hard anti-affinity)`;
    }
    const quota = this.snapshot.quota;
    if (quota === undefined) return undefined;
    const size = resolved.request.size;
    const over = (
      [
        ['vms', 1, 'VMs'],
        ['cpus', size.cpus, 'vCPUs'],
        ['memoryMiB', size.memoryMiB, 'MiB of memory'],
        ['diskGiB', size.diskGiB, 'GiB of disk'],
      ] as const
    ).find(([key, ask]) => {
      const limit = quota.limit[key];
      return limit !== undefined && quota.used[key] + ask > limit;
    });
    if (over === undefined) return undefined;
    const [key, ask, unit] = over;
    return `project quota: ${quota.used[key]} of ${quota.limit[key]} ${unit} used, ${ask} more asked`;
  }

  /** The hosts worth scanning: the requested ones, a hard-affine group's, or a label's. */
  private candidates(resolved: Resolved): readonly number[] {
    if (resolved.only !== undefined) return [...resolved.only];
    if (resolved.group !== undefined && resolved.affinity === 'hard') {
      const members = this.groupHosts.get(resolved.group);
      if (members !== undefined && members.size > 0) return [...members.keys()];
    }
    let smallest: readonly number[] = this.all;
    for (const [key, value] of resolved.selector) {
      const bucket = this.byLabel.get(labelKey(key, value)) ?? [];
      if (bucket.length < smallest.length) smallest = bucket;
    }
    return smallest;
  }

  /** The first filter the host fails, or PASS. Allocation-free: this is the hot path. */
  private check(index: number, resolved: Resolved): number {
    const host = this.hosts[index] as HostSnapshot;
    if (host.state !== 'ready' || host.cordoned || host.maintenance) return 0;
    if (resolved.only !== undefined && !resolved.only.has(index)) return 1;
    if (resolved.exclude?.has(index)) return 1;
    for (const [key, value] of resolved.selector) if (host.labels[key] !== value) return 2;
    const cpuModel = resolved.request.cpuModel;
    if (cpuModel !== undefined && host.cpuModel !== cpuModel) return 3;
    if (resolved.group !== undefined) {
      const members = this.membersOn(resolved.group, index);
      if (resolved.antiAffinity === 'hard' && members > 0) return 4;
      if (resolved.affinity === 'hard' && members === 0 && this.hasMembers(resolved.group))
        return 4;
    }
    const size = resolved.request.size;
    const oc = this.overcommit;
    const alloc = host.allocated;
    const cap = host.capacity;
    if (alloc.cpus + size.cpus > cap.cpus * oc.cpu + EPSILON) return 5;
    if (alloc.memoryMiB + size.memoryMiB > cap.memoryMiB * oc.memory + EPSILON) return 5;
    if (
      cap.diskGiB !== undefined &&
      alloc.diskGiB + size.diskGiB > cap.diskGiB * oc.disk + EPSILON
    ) {
      return 5;
    }
    return PASS;
  }

  private hasMembers(group: string): boolean {
    const members = this.groupHosts.get(group);
    return members !== undefined && members.size > 0;
  }

  /** Why the host failed filter `failed`, in words. */
  private why(failed: number, index: number, resolved: Resolved): string {
    const host = this.host(index);
    const filter = HOST_FILTERS[failed];
    const size = resolved.request.size;
    switch (filter) {
      case 'state':
        if (host.state !== 'ready') return `host is ${host.state}`;
        return host.maintenance ? 'host is in maintenance' : 'host is cordoned';
      case 'requested':
        return resolved.exclude?.has(index)
          ? 'excluded (the VM already runs there)'
          : 'not the requested host';
      case 'labels': {
        const [key, value] = resolved.selector.find(([k, v]) => host.labels[k] !== v) ?? ['', ''];
        const has = host.labels[key];
        return has === undefined
          ? `selector ${key}=${value}: host has no label ${key}`
          : `selector ${key}=${value}: host has ${key}=${has}`;
      }
      case 'cpu-model':
        return `CPU model ${resolved.request.cpuModel ?? ''} needed, host runs ${host.cpuModel ?? 'an unknown model'}`;
      case 'affinity': {
        const group = displayGroup(resolved.group ?? '');
        const members = this.membersOn(resolved.group ?? '', index);
        return members > 0
          ? `hard anti-affinity: ${members} VM${members === 1 ? '' : 's'} of group ${group} already here`
          : `hard affinity: no VM of group ${group} here`;
      }
      case 'capacity': {
        const oc = this.overcommit;
        const cap = host.capacity;
        const alloc = host.allocated;
        const free = (total: number, ratio: number, used: number) =>
          Math.max(0, total * ratio - used);
        const ratio = (r: number) => (r === 1 ? '' : `, overcommit ${r}x`);
        if (alloc.cpus + size.cpus > cap.cpus * oc.cpu + EPSILON) {
          return `${size.cpus} vCPUs asked, ${round(free(cap.cpus, oc.cpu, alloc.cpus))} of ${cap.cpus} free${ratio(oc.cpu)}`;
        }
        if (alloc.memoryMiB + size.memoryMiB > cap.memoryMiB * oc.memory + EPSILON) {
          return `${size.memoryMiB} MiB asked, ${round(free(cap.memoryMiB, oc.memory, alloc.memoryMiB))} of ${cap.memoryMiB} MiB free${ratio(oc.memory)}`;
        }
        return `${size.diskGiB} GiB of disk asked, ${round(free(cap.diskGiB ?? 0, oc.disk, alloc.diskGiB))} of ${cap.diskGiB ?? 0} GiB free${ratio(oc.disk)}`;
      }
      case undefined:
        return 'fits';
    }
    return 'fits';
  }

  private score(index: number, resolved: Resolved, cursor: number): number {
    let sum = 0;
    for (const [name, weight] of resolved.weights) {
      sum += weight * this.scorer(name, index, resolved, cursor);
    }
    return sum / resolved.weightSum;
  }

  private breakdown(
    index: number,
    resolved: Resolved,
    cursor: number,
  ): Record<string, { value: number; weight: number }> {
    const scores: Record<string, { value: number; weight: number }> = {};
    for (const [name, weight] of resolved.weights) {
      scores[name] = { value: round(this.scorer(name, index, resolved, cursor)), weight };
    }
    return scores;
  }

  /** Each scorer gives 0..1, higher is better; fractions are of the capacity after overcommit. */
  private scorer(name: string, index: number, resolved: Resolved, cursor: number): number {
    const host = this.hosts[index] as HostSnapshot;
    const size = resolved.request.size;
    const cpu = (host.allocated.cpus + size.cpus) / (host.capacity.cpus * this.overcommit.cpu);
    const memory =
      (host.allocated.memoryMiB + size.memoryMiB) /
      (host.capacity.memoryMiB * this.overcommit.memory);
    switch (name) {
      case 'binpack':
        return clamp((cpu + memory) / 2);
      case 'spread':
        return clamp(1 - (cpu + memory) / 2);
      case 'balanced':
        return clamp(1 - Math.abs(cpu - memory));
      case 'round-robin': {
        const n = this.hosts.length;
        return 1 - ((((index - cursor) % n) + n) % n) / n;
      }
      case 'load':
        return clamp(1 - Math.max(host.load?.cpu ?? 0.5, host.load?.memory ?? 0.5));
      case 'group': {
        const members = this.membersOn(resolved.group ?? '', index);
        if (resolved.affinity === 'soft') return members > 0 ? 1 : 0;
        return 1 / (1 + members);
      }
      default:
        return 0;
    }
  }
}

/** One placement decision over a snapshot. */
export function place(
  snapshot: ClusterSnapshot,
  request: PlacementRequest,
  options: PlaceOptions,
): Placement {
  return new HostIndex(snapshot).place(request, options);
}

/** Why each host was removed or how it scored (on demand: for dry runs and NO_HOST_FITS). */
export function explain(
  snapshot: ClusterSnapshot,
  request: PlacementRequest,
  options: PlaceOptions,
): SchedulerExplanation {
  return new HostIndex(snapshot).explain(request, options);
}

/** Whether `placement` is a refusal. */
export function isNoFit(placement: Placement): placement is NoFit {
  return placement.kind === 'no-fit';
}

function noFitReason(removed: readonly number[], outside: number, resolved: Resolved): string {
  const parts = HOST_FILTERS.flatMap((filter, i) => {
    const count = removed[i] ?? 0;
    return count === 0 ? [] : [`${filter} removed ${count}`];
  });
  if (outside > 0) {
    const why =
      resolved.only !== undefined
        ? 'not requested'
        : resolved.affinity === 'hard' && resolved.group !== undefined
          ? `without a VM of group ${displayGroup(resolved.group)}`
          : 'without the selected labels';
    parts.unshift(`${outside} ${why}`);
  }
  return `no host fits${parts.length === 0 ? ' (no hosts)' : `: ${parts.join(', ')}`}`;
}

function strongest(
  a: 'hard' | 'soft' | undefined,
  b: 'hard' | 'soft' | undefined,
): 'hard' | 'soft' | undefined {
  if (a === 'hard' || b === 'hard') return 'hard';
  return a ?? b;
}

/** Group keys are `project/name`; users know the name. */
function displayGroup(group: string): string {
  return group.slice(group.indexOf('/') + 1);
}

function labelKey(key: string, value: string): string {
  return `${key}\u0000${value}`;
}

function add(total: Resources, size: Resources): void {
  total.cpus += size.cpus;
  total.memoryMiB += size.memoryMiB;
  total.diskGiB += size.diskGiB;
}

function clamp(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
