import type { ColumnType } from 'kysely';

// The Kysely view of the tables, for both dialects. Timestamps are ISO-8601 text (UTC, from
// Date.toISOString) on both, so they compare and sort the same everywhere. JSON is stored as text.
// Booleans are 0/1 integers because better-sqlite3 cannot bind a JS boolean.

/** A PostgreSQL bigint arrives as a string from pg, an integer as a number from better-sqlite3. */
type Int8 = ColumnType<string | number, number, number>;

/** An integer column with a default in the table: optional on insert. */
type IntWithDefault = ColumnType<number, number | undefined, number>;

export interface ProjectsTable {
  id: string;
  name: string;
  created_at: string;
  /** Quotas; null means no limit. */
  max_vcpus: ColumnType<number | null, number | null | undefined, number | null>;
  max_memory_mib: ColumnType<number | null, number | null | undefined, number | null>;
  max_disk_gib: ColumnType<number | null, number | null | undefined, number | null>;
  max_vms: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface RoleBindingsTable {
  user_id: string;
  project_id: string;
  role: string;
  created_at: string;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  user_id: string;
  project_id: string;
  role: string;
  token_hash: string;
  expires_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

export interface RotatedRefreshTokensTable {
  token_hash: string;
  session_id: string;
  rotated_at: string;
}

export interface AuditLogTable {
  /** Assigned by the database; insert only, never updated or deleted. */
  seq: ColumnType<string | number, never, never>;
  time: string;
  actor: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  target_name: string | null;
  project: string | null;
  source_address: string;
  result: string;
  /** JSON object. */
  details: string;
}

export interface SecondFactorsTable {
  user_id: string;
  secret_sealed: string | null;
  /** A secret enrolled but not yet verified with a code. */
  pending_secret_sealed: string | null;
  enabled_at: string | null;
  /** Last TOTP time step used; a code of this step or an older one is a replay. */
  last_step: ColumnType<string | number | null, number | null, number | null>;
  /** 0/1: this user must have a second factor to log in. */
  required: IntWithDefault;
  updated_at: string;
}

export interface RecoveryCodesTable {
  user_id: string;
  code_hash: string;
  used_at: string | null;
}

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  role: string;
  created_at: string;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  refresh_token_hash: string;
  expires_at: string;
  revoked_at: string | null;
  created_at: string;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface HostsTable {
  id: string;
  name: string;
  agent_url: string;
  state: string;
  cpus: number;
  memory_mib: number;
  accelerator: string | null;
  accelerator_reason: string;
  qemu_version: string;
  labels: string;
  /** 0/1; a disabled host shows state `disabled` whatever its agent reports. */
  enabled: IntWithDefault;
  cordoned: IntWithDefault;
  maintenance: IntWithDefault;
  last_heartbeat_at: string | null;
  created_at: string;
  updated_at: string;
  version: number;
}

export interface ImagesTable {
  id: string;
  name: string;
  project_id: string;
  kind: string;
  status: string;
  builtin: number;
  size_bytes: Int8;
  default_kernel_args: string;
  sha256: string;
  created_at: string;
  updated_at: string;
}

export interface VmsTable {
  id: string;
  name: string;
  project_id: string;
  state: string;
  desired_state: string;
  host_id: string | null;
  image_id: string;
  cpus: number;
  memory_mib: number;
  disk_gib: number;
  kernel_args: string;
  labels: string;
  state_reason: string | null;
  description: ColumnType<string, string | undefined, string>;
  restart_policy: ColumnType<string, string | undefined, string>;
  restarts: IntWithDefault;
  last_restart_at: ColumnType<string | null, string | null | undefined, string | null>;
  storage_pool: ColumnType<string, string | undefined, string>;
  /** JSON of the VM's placement rules (VmPlacement). */
  placement: ColumnType<string, string | undefined, string>;
  /** 0/1: a template (immutable, never started). */
  template: IntWithDefault;
  /** The template a linked clone's disk reads from. */
  base_vm_id: ColumnType<string | null, string | null | undefined, string | null>;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface VmSnapshotsTable {
  id: string;
  vm_id: string;
  name: string;
  description: string;
  /** 0/1: RAM and device state saved too. */
  memory: number;
  vm_state: string;
  vm_state_bytes: Int8;
  created_at: string;
}

export interface OperationsTable {
  id: string;
  kind: string;
  status: string;
  phase: string;
  progress: number;
  target_type: string;
  target_id: string;
  target_name: string;
  project_id: string | null;
  result: string | null;
  metadata: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface EventsTable {
  /** Assigned by the database (identity / autoincrement), never written. */
  seq: ColumnType<string | number, never, never>;
  type: string;
  time: string;
  project: string | null;
  subject_kind: string;
  subject_id: string;
  data: string;
}

export interface JoinTokensTable {
  id: string;
  token_hash: string;
  host_name: string;
  expires_at: string;
  used_at: string | null;
  created_at: string;
}

export interface VmCloudInitTable {
  vm_id: string;
  /** JSON: the AgentCloudInit the VM's host writes into its seed. */
  data: string;
  created_at: string;
}

export interface VmHardwareTable {
  vm_id: string;
  /** JSON: the VM's VmHardware. */
  data: string;
  /** The sum of its data disks' sizes, for the project's disk usage. */
  data_disk_gib: number;
  updated_at: string;
}

export interface Tables {
  projects: ProjectsTable;
  users: UsersTable;
  sessions: SessionsTable;
  settings: SettingsTable;
  hosts: HostsTable;
  images: ImagesTable;
  vms: VmsTable;
  vm_snapshots: VmSnapshotsTable;
  operations: OperationsTable;
  events: EventsTable;
  join_tokens: JoinTokensTable;
  role_bindings: RoleBindingsTable;
  api_tokens: ApiTokensTable;
  rotated_refresh_tokens: RotatedRefreshTokensTable;
  audit_log: AuditLogTable;
  second_factors: SecondFactorsTable;
  recovery_codes: RecoveryCodesTable;
  vm_hardware: VmHardwareTable;
  vm_cloud_init: VmCloudInitTable;
}
