/**
 * @novacron/store — the control plane's state on SQLite (embedded) or PostgreSQL (scale-out),
 * through Kysely with one migration set for both. Repositories return the @novacron/api types;
 * every change to a VM, host or operation appends its event in the same transaction, numbered in
 * commit order. An adapter: it imports only @novacron/api and @novacron/domain from the
 * workspace, and never reads process.env (options come from the composition root).
 */
export { openStore, type Store, type StoreOptions } from './store.js';
export type { StoreDialect } from './migrations.js';
export { StaleVersionError, isStaleVersionError } from './errors.js';
export { randomId, systemClock } from './defaults.js';
export type { EventListener } from './event-bus.js';
export type { Repositories } from './repositories/index.js';
export type { EventQuery, EventRepository } from './repositories/events.js';
export type { HostChanges, HostRegistration, HostRepository } from './repositories/hosts.js';
export type { ImageChanges, ImageRepository, NewImage } from './repositories/images.js';
export type { JoinToken, JoinTokenRepository, NewJoinToken } from './repositories/join-tokens.js';
export type {
  NewOperation,
  OperationChanges,
  OperationListFilter,
  OperationPageResult,
  OperationRepository,
} from './repositories/operations.js';
export {
  DEFAULT_PROJECT,
  type Project,
  type ProjectQuotaValues,
  type ProjectRepository,
  type ProjectUsageValues,
} from './repositories/projects.js';
export type { ApiTokenRepository, NewApiToken, StoredApiToken } from './repositories/api-tokens.js';
export type { AuditQueryFilter, AuditRepository, NewAuditEntry } from './repositories/audit.js';
export type { NewSession, Session, SessionRepository } from './repositories/sessions.js';
export type { SecondFactor, SecondFactorRepository } from './repositories/second-factors.js';
export type { SettingRepository } from './repositories/settings.js';
export type { NewVmSnapshot, SnapshotRepository } from './repositories/snapshots.js';
export type { NewUser, User, UserRepository } from './repositories/users.js';
export {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  type NewVm,
  type VmAllocation,
  type VmChanges,
  type VmListFilter,
  type VmPageResult,
  type VmRepository,
} from './repositories/vms.js';
export {
  DEFAULT_TEST_DATABASE_URL,
  openPostgresTestStore,
  createTestImage,
  openSqliteTestStore,
  testDatabases,
  type TestDatabase,
  type TestStore,
} from './testing.js';
