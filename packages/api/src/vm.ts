import { Type, type Static } from 'typebox';
import { IdOrName, Labels, LabelsPatch, ListQuery, Name, Page, Timestamp } from './common.js';
import { CloudInit } from './cloud-init.js';
import { VmPlacement } from './placement.js';

/** Every state a VM can be in; the legal moves between them live in @novacron/domain. */
export const VM_STATES = [
  'creating',
  'stopped',
  'starting',
  'running',
  'stopping',
  'paused',
  'migrating',
  'deleting',
  'error',
  'unknown',
] as const;
export type VmState = (typeof VM_STATES)[number];
export const VmState = Type.Enum(VM_STATES);

/** `local`: the host's own directory; `shared`: a directory every host mounts (ADR 13). */
export const STORAGE_POOLS = ['local', 'shared'] as const;
export type StoragePool = (typeof STORAGE_POOLS)[number];
export const StoragePool = Type.Enum(STORAGE_POOLS);

/** What the user asked the VM to be; reconciliation drives the observed state towards it. */
export const VmDesiredState = Type.Union([Type.Literal('running'), Type.Literal('stopped')]);
export type VmDesiredState = Static<typeof VmDesiredState>;

/**
 * When reconciliation restarts a VM whose QEMU ended while it should run: `on-failure` only after
 * an abnormal exit (a crash, a kill), `always` also after a clean guest power-off.
 */
export const RESTART_POLICIES = ['never', 'on-failure', 'always'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];
export const RestartPolicy = Type.Enum(RESTART_POLICIES);

export const MAX_VM_DESCRIPTION_LENGTH = 1024;
export const VmDescription = Type.String({ maxLength: MAX_VM_DESCRIPTION_LENGTH });

export const Vm = Type.Object({
  id: Type.String(),
  name: Type.String(),
  project: Type.String(),
  state: VmState,
  desiredState: VmDesiredState,
  /** Name of the host the VM is placed on; null before placement. */
  host: Type.Union([Type.String(), Type.Null()]),
  image: Type.String(),
  imageId: Type.String(),
  description: Type.String(),
  cpus: Type.Integer(),
  memoryMiB: Type.Integer(),
  diskGiB: Type.Integer(),
  kernelArgs: Type.String(),
  labels: Labels,
  /** Why the VM is in `error` or `unknown`; null otherwise. */
  stateReason: Type.Union([Type.String(), Type.Null()]),
  restartPolicy: RestartPolicy,
  /** Where the VM's disk lives; on `shared`, live migration moves only memory. */
  pool: StoragePool,
  /** The rules its host was chosen by; a migration or drain keeps them. */
  placement: VmPlacement,
  /** How many times reconciliation restarted the VM after its QEMU ended. */
  restarts: Type.Integer(),
  lastRestartAt: Type.Union([Timestamp, Type.Null()]),
  /** A template: immutable, never started; VMs are made from it (`POST .../clone`). */
  template: Type.Optional(Type.Boolean()),
  /** The template whose disk this VM's disk reads from (a linked clone); null or absent if none. */
  baseVm: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  version: Type.Integer(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Vm = Static<typeof Vm>;

export const MAX_VM_CPUS = 256;
export const MAX_VM_MEMORY_MIB = 4 * 1024 * 1024;
export const MAX_VM_DISK_GIB = 64 * 1024;
/** Kernel arguments: printable ASCII only, no quotes or backslashes, so nothing can escape them. */
export const KERNEL_ARGS_PATTERN = '^[A-Za-z0-9_.,:=/+@ -]*$';

export const VmCreate = Type.Object(
  {
    name: Name,
    image: IdOrName,
    project: Type.Optional(Name),
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_VM_CPUS })),
    memoryMiB: Type.Optional(Type.Integer({ minimum: 16, maximum: MAX_VM_MEMORY_MIB })),
    diskGiB: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_VM_DISK_GIB })),
    host: Type.Optional(IdOrName),
    kernelArgs: Type.Optional(Type.String({ maxLength: 1024, pattern: KERNEL_ARGS_PATTERN })),
    labels: Type.Optional(Labels),
    description: Type.Optional(VmDescription),
    /** Default `never`. */
    restartPolicy: Type.Optional(RestartPolicy),
    /** Where the disk lives; the cluster's default pool when absent. */
    pool: Type.Optional(StoragePool),
    /** How the host is chosen when `host` is absent (policy, group, affinity, selector). */
    placement: Type.Optional(VmPlacement),
    /** Start the VM once created (default true). */
    start: Type.Optional(Type.Boolean()),
    /** vCPUs it may grow to while running (CPU hot-add, ADR 23); default cpus: no headroom. */
    maxCpus: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_VM_CPUS })),
    /** Memory it may grow to while running (DIMM hot-add); default memoryMiB: no headroom. */
    maxMemoryMiB: Type.Optional(Type.Integer({ minimum: 16, maximum: MAX_VM_MEMORY_MIB })),
    /** Given to the guest by cloud-init (a NoCloud seed on a CD-ROM); kept with the VM. */
    cloudInit: Type.Optional(CloudInit),
  },
  { additionalProperties: false },
);
export type VmCreate = Static<typeof VmCreate>;

export const VM_ACTIONS = ['start', 'stop', 'reboot', 'pause', 'resume'] as const;
export type VmActionName = (typeof VM_ACTIONS)[number];

export const VmAction = Type.Object(
  {
    action: Type.Enum(VM_ACTIONS),
    /** stop: power off at once instead of an ACPI shutdown. */
    force: Type.Optional(Type.Boolean()),
    /** stop: seconds to wait for the guest before forcing. */
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
  },
  { additionalProperties: false },
);
export type VmAction = Static<typeof VmAction>;

export const VmDeleteQuery = Type.Object({
  force: Type.Optional(Type.Boolean()),
  /**
   * Keep the VM's disk: the host moves it to `kept-disks/<vm name>-<vm id>/` in its pool and the
   * operation's result gives the path (`keptDisks`).
   */
  keepDisks: Type.Optional(Type.Boolean()),
});
export type VmDeleteQuery = Static<typeof VmDeleteQuery>;

/** A label selector `key=value`; the key holds no `=`, the value may be empty. */
export const LABEL_SELECTOR_PATTERN = '^[^=]{1,63}=.{0,63}$';
export const MAX_LABEL_SELECTORS = 16;

export const VmListQuery = Type.Object({
  ...ListQuery.properties,
  state: Type.Optional(VmState),
  host: Type.Optional(IdOrName),
  project: Type.Optional(Name),
  /** `key=value`, repeatable: only VMs carrying every one of these labels. */
  label: Type.Optional(
    Type.Array(Type.String({ pattern: LABEL_SELECTOR_PATTERN }), {
      maxItems: MAX_LABEL_SELECTORS,
    }),
  ),
});
export type VmListQuery = Static<typeof VmListQuery>;

/**
 * What a user may change on a VM. `cpus` and `memoryMiB` only while it is stopped; they take
 * effect at its next start. `labels` merges (RFC 7386): a string sets a key, null removes it.
 */
export const VmPatch = Type.Object(
  {
    labels: Type.Optional(LabelsPatch),
    description: Type.Optional(VmDescription),
    restartPolicy: Type.Optional(RestartPolicy),
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_VM_CPUS })),
    memoryMiB: Type.Optional(Type.Integer({ minimum: 16, maximum: MAX_VM_MEMORY_MIB })),
  },
  { additionalProperties: false },
);
export type VmPatch = Static<typeof VmPatch>;

export const VmPage = Page(Vm);
export type VmPage = Static<typeof VmPage>;

export const ConsoleOutputQuery = Type.Object({
  /** Return at most this many bytes from the end of the kept output. */
  tailBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 * 1024 })),
});
export type ConsoleOutputQuery = Static<typeof ConsoleOutputQuery>;
