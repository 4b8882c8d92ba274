import { Type, type Static } from 'typebox';
import { Id, IdOrName, ListQuery, Name, Page, Timestamp } from './common.js';

// Projects, users, role bindings, API tokens and the audit log (docs/adr/0016-security-model.md).

export const ROLE_NAMES = ['viewer', 'operator', 'admin'] as const;
export const RoleName = Type.Enum(ROLE_NAMES);
export type RoleName = Static<typeof RoleName>;

const QuotaValue = Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000_000 }), Type.Null()]);

/** Limits of a project; null means no limit. */
export const ProjectQuotas = Type.Object({
  maxVcpus: QuotaValue,
  maxMemoryMiB: QuotaValue,
  maxDiskGiB: QuotaValue,
  maxVms: QuotaValue,
});
export type ProjectQuotas = Static<typeof ProjectQuotas>;

/** What a project's VMs hold now. */
export const ProjectUsage = Type.Object({
  vcpus: Type.Integer(),
  memoryMiB: Type.Integer(),
  diskGiB: Type.Integer(),
  vms: Type.Integer(),
});
export type ProjectUsage = Static<typeof ProjectUsage>;

export const Project = Type.Object({
  id: Type.String(),
  name: Type.String(),
  quotas: ProjectQuotas,
  usage: ProjectUsage,
  createdAt: Timestamp,
});
export type Project = Static<typeof Project>;

export const ProjectPage = Page(Project);
export type ProjectPage = Static<typeof ProjectPage>;

export const ProjectQuotasPatch = Type.Partial(ProjectQuotas, { additionalProperties: false });
export type ProjectQuotasPatch = Static<typeof ProjectQuotasPatch>;

export const ProjectCreate = Type.Object(
  { name: Name, ...Type.Partial(ProjectQuotas).properties },
  { additionalProperties: false },
);
export type ProjectCreate = Static<typeof ProjectCreate>;

export const NameParams = Type.Object({ name: Name });
export type NameParams = Static<typeof NameParams>;

export const RoleBinding = Type.Object({ project: Type.String(), role: RoleName });
export type RoleBinding = Static<typeof RoleBinding>;

const Username = Type.String({
  pattern: '^[a-z0-9][a-z0-9_-]{0,62}$',
  minLength: 1,
  maxLength: 63,
});
const Password = Type.String({ minLength: 8, maxLength: 1024 });

export const User = Type.Object({
  id: Type.String(),
  username: Type.String(),
  /** Admin of the whole cluster and of every project. */
  clusterAdmin: Type.Boolean(),
  bindings: Type.Array(RoleBinding),
  createdAt: Timestamp,
});
export type User = Static<typeof User>;

export const UserPage = Page(User);
export type UserPage = Static<typeof UserPage>;

/**
 * A new user. `role` binds it in `project` (default: `default`); `clusterAdmin` makes it admin of
 * everything instead.
 */
export const UserCreate = Type.Object(
  {
    username: Username,
    password: Password,
    role: Type.Optional(RoleName),
    project: Type.Optional(Name),
    clusterAdmin: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type UserCreate = Static<typeof UserCreate>;

export const UserPasswordChange = Type.Object(
  { password: Password },
  { additionalProperties: false },
);
export type UserPasswordChange = Static<typeof UserPasswordChange>;

export const UserParams = Type.Object({ username: IdOrName });
export type UserParams = Static<typeof UserParams>;

/** A user's role binding in one project. */
export const UserRoleParams = Type.Object({ username: IdOrName, project: Name });
export type UserRoleParams = Static<typeof UserRoleParams>;

export const UserRoleSet = Type.Object({ role: RoleName }, { additionalProperties: false });
export type UserRoleSet = Static<typeof UserRoleSet>;

export const RefreshRequest = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 512 }) },
  { additionalProperties: false },
);
export type RefreshRequest = Static<typeof RefreshRequest>;

export const ApiToken = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** Who created it; it acts as this user, within `project` and `role` only. */
  username: Type.String(),
  project: Type.String(),
  role: RoleName,
  expiresAt: Timestamp,
  revokedAt: Type.Union([Timestamp, Type.Null()]),
  lastUsedAt: Type.Union([Timestamp, Type.Null()]),
  createdAt: Timestamp,
});
export type ApiToken = Static<typeof ApiToken>;

export const ApiTokenPage = Page(ApiToken);
export type ApiTokenPage = Static<typeof ApiTokenPage>;

export const MAX_API_TOKEN_TTL_DAYS = 3650;

export const ApiTokenCreate = Type.Object(
  {
    name: Name,
    /** Default `default`. */
    project: Type.Optional(Name),
    role: RoleName,
    /** Default 90 days. */
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_API_TOKEN_TTL_DAYS })),
  },
  { additionalProperties: false },
);
export type ApiTokenCreate = Static<typeof ApiTokenCreate>;

/** Answer to a token creation: the only time the secret is shown. */
export const ApiTokenCreated = Type.Object({ ...ApiToken.properties, token: Type.String() });
export type ApiTokenCreated = Static<typeof ApiTokenCreated>;

export const IdParams = Type.Object({ id: Id });
export type IdParams = Static<typeof IdParams>;

export const AuditEntry = Type.Object({
  seq: Type.Integer(),
  time: Timestamp,
  /** Username of the caller, or the one a refused login named; null when unknown. */
  actor: Type.Union([Type.String(), Type.Null()]),
  /** What was done, e.g. `vm.create`, `auth.login`. */
  action: Type.String(),
  target: Type.Union([
    Type.Object({
      type: Type.String(),
      id: Type.Union([Type.String(), Type.Null()]),
      name: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
  project: Type.Union([Type.String(), Type.Null()]),
  sourceAddress: Type.String(),
  /** `success`, or the error code of the refusal. */
  result: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export type AuditEntry = Static<typeof AuditEntry>;

export const AuditPage = Page(AuditEntry);
export type AuditPage = Static<typeof AuditPage>;

export const AuditQuery = Type.Object({
  ...ListQuery.properties,
  user: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  action: Type.Optional(Type.String({ pattern: '^[a-z]+(\\.[a-z_-]+)*$', maxLength: 64 })),
  /** Entries at or after this time. */
  since: Type.Optional(Timestamp),
  /** Entries before this time. */
  until: Type.Optional(Timestamp),
});
export type AuditQuery = Static<typeof AuditQuery>;
