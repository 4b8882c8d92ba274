import { Type, type Static } from 'typebox';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
// Port 0 asks the kernel for a free port (tests).
const Port = Type.Integer({ minimum: 0, maximum: 65535 });

/** The one configuration schema of every NovaCron process (ARCHITECTURE.md §8). */
export const ConfigSchema = Type.Object({
  /** Where the server keeps its database, images and secrets and the agent its VMs. */
  dataDir: Type.String({ minLength: 1 }),
  /** `postgres://...`; absent means SQLite in the data directory. */
  databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  redisUrl: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  apiHost: Type.String(),
  apiPort: Port,
  wsPort: Port,
  agentHost: Type.String(),
  agentPort: Port,
  /** The server's cluster port: agents join, heartbeat and pull images here (mutual TLS). */
  clusterPort: Port,
  /** A host without a heartbeat for this long is marked unreachable and its VMs unknown. */
  hostTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
  /** How often an agent sends its heartbeat. */
  heartbeatIntervalMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
  /** How often an agent measures its host and VMs (the samples ride on the next heartbeat). */
  metricsIntervalMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
  /** What this agent advertises, when less than the whole machine (a cluster on one machine). */
  agentCpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
  agentMemoryMiB: Type.Optional(Type.Integer({ minimum: 64 })),
  /**
   * A directory every host of the cluster mounts (NFS; on one machine, the same folder): disks of
   * VMs in the `shared` pool live there, so live migration moves only memory. Absent: no shared pool.
   */
  sharedPoolDir: Type.Optional(Type.String({ minLength: 1 })),
  /** `novacron up --hosts N`: the bridge's subnet and the prefix of its bridge and namespaces. */
  clusterSubnet: Type.String({ pattern: '^\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.0/\\d{1,2}$' }),
  clusterPrefix: Type.String({ pattern: '^[a-z][a-z0-9]{0,5}$' }),
  /** Pool of a new VM's disk when the create does not say (docs/adr/0013-live-migration.md). */
  defaultPool: Type.Union([Type.Literal('local'), Type.Literal('shared')]),
  /** How the scheduler ranks hosts that fit when a create names no policy (docs/adr/0019-scheduler.md). */
  schedulerPolicy: Type.Union([
    Type.Literal('binpack'),
    Type.Literal('spread'),
    Type.Literal('balanced'),
    Type.Literal('round-robin'),
    Type.Literal('load-aware'),
  ]),
  /** Placement counts each host's vCPUs, memory and disk times these ratios (1 = no overcommit). */
  cpuOvercommit: Type.Number({ minimum: 0.1, maximum: 64 }),
  memoryOvercommit: Type.Number({ minimum: 0.1, maximum: 64 }),
  diskOvercommit: Type.Number({ minimum: 0.1, maximum: 64 }),
  /** Cluster defaults of a live migration: bytes/s on the stream, longest switch-over pause. */
  migrationMaxBandwidthBytes: Type.Integer({ minimum: 1024 * 1024 }),
  migrationMaxDowntimeMs: Type.Integer({ minimum: 1, maximum: 60_000 }),
  /** TLS on migration streams unless a migration switches it off. */
  migrationTls: Type.Boolean(),
  /** Seconds a running migration may make no progress before it is escalated or given up. */
  migrationStallSeconds: Type.Integer({ minimum: 5, maximum: 3600 }),
  /** Name this machine's agent registers as. */
  agentName: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
  accel: Type.Union([Type.Literal('auto'), Type.Literal('kvm'), Type.Literal('tcg')]),
  /**
   * The agent's VM network: a bridge with DHCP. `auto` sets it up when the host can (root, `ip`,
   * dnsmasq) and otherwise runs VMs without a NIC; `on` refuses to start without it; `off` never.
   */
  vmNetwork: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')]),
  /** The VM bridge of each host (one per network namespace); an interface name, 15 characters at most. */
  bridge: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_-]{0,14}$' }),
  /** The VM subnet of each host's bridge: the bridge takes the first address, DHCP the rest. */
  vmSubnet: Type.String({ pattern: '^\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}/\\d{1,2}$' }),
  /** Masquerade VM traffic to the outside through the host's routes. */
  vmNat: Type.Union([Type.Literal('on'), Type.Literal('off')]),
  adminPassword: Type.Optional(Type.String({ minLength: 8 })),
  /** Every user must have a TOTP second factor; one without is asked to enrol at login. */
  totpRequired: Type.Boolean(),
  /** Failed logins of one username within 15 minutes that lock it (an address gets 4 times as many). */
  loginMaxFailures: Type.Integer({ minimum: 1, maximum: 1000 }),
  /** How long a locked username or address is refused. */
  loginLockoutSeconds: Type.Integer({ minimum: 1, maximum: 86_400 }),
  serverUrl: Type.String({ pattern: '^https?://' }),
  token: Type.Optional(Type.String()),
  logLevel: Type.Enum(LOG_LEVELS),
});
export type Config = Static<typeof ConfigSchema>;

/** Settings whose values never reach a log. */
export const SECRET_KEYS: readonly (keyof Config)[] = ['adminPassword', 'token', 'databaseUrl'];

/** Environment variable of each setting. */
export const ENV_NAMES: Record<keyof Config, string> = {
  dataDir: 'NOVACRON_DATA_DIR',
  databaseUrl: 'NOVACRON_DATABASE_URL',
  redisUrl: 'NOVACRON_REDIS_URL',
  apiHost: 'NOVACRON_API_HOST',
  apiPort: 'NOVACRON_API_PORT',
  wsPort: 'NOVACRON_WS_PORT',
  agentHost: 'NOVACRON_AGENT_HOST',
  agentPort: 'NOVACRON_AGENT_PORT',
  clusterPort: 'NOVACRON_CLUSTER_PORT',
  hostTimeoutSeconds: 'NOVACRON_HOST_TIMEOUT',
  heartbeatIntervalMs: 'NOVACRON_HEARTBEAT_INTERVAL_MS',
  metricsIntervalMs: 'NOVACRON_METRICS_INTERVAL_MS',
  agentCpus: 'NOVACRON_AGENT_CPUS',
  agentMemoryMiB: 'NOVACRON_AGENT_MEMORY_MIB',
  sharedPoolDir: 'NOVACRON_SHARED_POOL_DIR',
  clusterSubnet: 'NOVACRON_CLUSTER_SUBNET',
  clusterPrefix: 'NOVACRON_CLUSTER_PREFIX',
  defaultPool: 'NOVACRON_DEFAULT_POOL',
  schedulerPolicy: 'NOVACRON_SCHEDULER_POLICY',
  cpuOvercommit: 'NOVACRON_CPU_OVERCOMMIT',
  memoryOvercommit: 'NOVACRON_MEMORY_OVERCOMMIT',
  diskOvercommit: 'NOVACRON_DISK_OVERCOMMIT',
  migrationMaxBandwidthBytes: 'NOVACRON_MIGRATION_MAX_BANDWIDTH',
  migrationMaxDowntimeMs: 'NOVACRON_MIGRATION_MAX_DOWNTIME_MS',
  migrationTls: 'NOVACRON_MIGRATION_TLS',
  migrationStallSeconds: 'NOVACRON_MIGRATION_STALL_TIMEOUT',
  agentName: 'NOVACRON_AGENT_NAME',
  accel: 'NOVACRON_ACCEL',
  vmNetwork: 'NOVACRON_VM_NETWORK',
  bridge: 'NOVACRON_BRIDGE',
  vmSubnet: 'NOVACRON_VM_SUBNET',
  vmNat: 'NOVACRON_VM_NAT',
  adminPassword: 'NOVACRON_ADMIN_PASSWORD',
  totpRequired: 'NOVACRON_TOTP_REQUIRED',
  loginMaxFailures: 'NOVACRON_LOGIN_MAX_FAILURES',
  loginLockoutSeconds: 'NOVACRON_LOGIN_LOCKOUT_SECONDS',
  serverUrl: 'NOVACRON_SERVER_URL',
  token: 'NOVACRON_TOKEN',
  logLevel: 'NOVACRON_LOG_LEVEL',
};
