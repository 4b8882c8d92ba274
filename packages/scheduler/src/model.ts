import type { ConstraintStrength, SchedulerPolicy } from '@novacron/api';

/** vCPUs, MiB of memory and GiB of disk. */
export interface Resources {
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
}

/** One host as the scheduler sees it at the moment of the snapshot. */
export interface HostSnapshot {
  id: string;
  name: string;
  /** Only `ready` takes new VMs. */
  state: string;
  cordoned: boolean;
  maintenance: boolean;
  /** What the host offers; a disk size the host does not report is not checked. */
  capacity: { cpus: number; memoryMiB: number; diskGiB?: number };
  /** The sum of the VMs placed on it. */
  allocated: Resources;
  labels: Readonly<Record<string, string>>;
  /** The CPU model its guests see; a VM that must keep its CPU model goes only where it matches. */
  cpuModel?: string;
  /** Measured use, 0..1, from the agent's latest sample; absent when not measured yet. */
  load?: { cpu?: number; memory?: number };
  /** Members of each placement group on this host. */
  groups?: Readonly<Record<string, number>>;
}

/** The rules a group's members were placed with; they bind every later member. */
export interface GroupRule {
  affinity?: ConstraintStrength;
  antiAffinity?: ConstraintStrength;
}

/** Project quota: what is allowed and what is used; an absent limit is no limit. */
export interface QuotaSnapshot {
  limit: Partial<Resources & { vms: number }>;
  used: Resources & { vms: number };
}

export interface Overcommit {
  cpu: number;
  memory: number;
  disk: number;
}

export interface ClusterSnapshot {
  hosts: readonly HostSnapshot[];
  /** Capacity multipliers per resource (1 = no overcommit). */
  overcommit: Overcommit;
  groups?: Readonly<Record<string, GroupRule>>;
  /** The requesting project's quota, when it has one. */
  quota?: QuotaSnapshot;
}

export interface PlacementRequest {
  size: Resources;
  policy?: SchedulerPolicy;
  /** Key of the VM's placement group (unique across projects: the server prefixes the project). */
  group?: string;
  affinity?: ConstraintStrength;
  antiAffinity?: ConstraintStrength;
  selector?: Readonly<Record<string, string>>;
  cpuModel?: string;
  /** Only these hosts (ids), e.g. a host the user named. */
  onlyHosts?: readonly string[];
  /** Never these hosts (ids), e.g. the host a migrating VM leaves. */
  excludeHosts?: readonly string[];
}

export interface PlaceOptions {
  /** The cluster's policy, used when the request names none. */
  defaultPolicy: SchedulerPolicy;
  /** Uniform in [0, 1): where the scan of candidates starts (ties are broken by host order). */
  random: () => number;
  /** Round-robin position: the host at this index (mod host count) scores best. */
  cursor?: number;
  /** How many feasible hosts to score before choosing; all of them when the cluster is smaller. */
  sample?: number;
}

export interface Placed {
  kind: 'placed';
  host: HostSnapshot;
  /** Index of the host in the snapshot. */
  index: number;
  score: number;
  /** One line for the operation record. */
  reason: string;
  /** Feasible hosts scored. */
  scored: number;
}

export interface NoFit {
  kind: 'no-fit';
  reason: string;
}

export type Placement = Placed | NoFit;

/** Default number of feasible hosts scored per decision (Nomad's candidate limit is similar). */
export const DEFAULT_SAMPLE = 64;

/** Weights of each policy over the scorers; soft group rules add their own scorer. */
export const POLICY_WEIGHTS: Readonly<Record<SchedulerPolicy, Readonly<Record<string, number>>>> = {
  binpack: { binpack: 1, balanced: 0.2 },
  spread: { spread: 1, balanced: 0.2 },
  balanced: { balanced: 1, spread: 0.3 },
  'round-robin': { 'round-robin': 1 },
  'load-aware': { load: 1, spread: 0.3 },
};

/** Weight of the soft affinity / anti-affinity scorer when the request or its group asks for it. */
export const SOFT_GROUP_WEIGHT = 2;
