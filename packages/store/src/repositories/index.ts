import type { Scope, StoreContext } from '../context.js';
import { createApiTokenRepository, type ApiTokenRepository } from './api-tokens.js';
import { createCloudInitRepository, type CloudInitRepository } from './cloud-init.js';
import { createAuditRepository, type AuditRepository } from './audit.js';
import { createHardwareRepository, type HardwareRepository } from './hardware.js';
import { createEventRepository, type EventRepository } from './events.js';
import { createHostRepository, type HostRepository } from './hosts.js';
import { createImageRepository, type ImageRepository } from './images.js';
import { createJoinTokenRepository, type JoinTokenRepository } from './join-tokens.js';
import { createOperationRepository, type OperationRepository } from './operations.js';
import { createProjectRepository, type ProjectRepository } from './projects.js';
import { createSecondFactorRepository, type SecondFactorRepository } from './second-factors.js';
import { createSessionRepository, type SessionRepository } from './sessions.js';
import { createSettingRepository, type SettingRepository } from './settings.js';
import { createSnapshotRepository, type SnapshotRepository } from './snapshots.js';
import { createUserRepository, type UserRepository } from './users.js';
import { createVmRepository, type VmRepository } from './vms.js';

/** Every repository, bound to the store's pool or to one transaction. */
export interface Repositories {
  readonly projects: ProjectRepository;
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly settings: SettingRepository;
  readonly hosts: HostRepository;
  readonly images: ImageRepository;
  readonly vms: VmRepository;
  readonly snapshots: SnapshotRepository;
  readonly operations: OperationRepository;
  readonly events: EventRepository;
  readonly joinTokens: JoinTokenRepository;
  readonly apiTokens: ApiTokenRepository;
  readonly audit: AuditRepository;
  readonly secondFactors: SecondFactorRepository;
  readonly hardware: HardwareRepository;
  readonly cloudInit: CloudInitRepository;
}

export function createRepositories(ctx: StoreContext, scope: Scope): Repositories {
  return {
    projects: createProjectRepository(ctx, scope),
    users: createUserRepository(ctx, scope),
    sessions: createSessionRepository(ctx, scope),
    settings: createSettingRepository(scope),
    hosts: createHostRepository(ctx, scope),
    images: createImageRepository(ctx, scope),
    vms: createVmRepository(ctx, scope),
    snapshots: createSnapshotRepository(ctx, scope),
    operations: createOperationRepository(ctx, scope),
    events: createEventRepository(scope),
    joinTokens: createJoinTokenRepository(ctx, scope),
    apiTokens: createApiTokenRepository(ctx, scope),
    audit: createAuditRepository(ctx, scope),
    secondFactors: createSecondFactorRepository(ctx, scope),
    hardware: createHardwareRepository(ctx, scope),
    cloudInit: createCloudInitRepository(ctx, scope),
  };
}
