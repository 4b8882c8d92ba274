/**
 * Role-based access control, evaluated purely: who may do what in which project. The server
 * calls `authorize` once per request with the permission the route declares.
 */

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/**
 * What a route needs. `public`: no caller at all; `self`: any authenticated caller, acting on
 * its own account (logout, its own tokens). The rest act in a project (`vm.*`, `image.*`,
 * `operation.*`, `project.read`) or on the whole cluster (`host.manage`, `user.*`, ...).
 */
export const PERMISSIONS = [
  'public',
  'self',
  'vm.read',
  'vm.create',
  'vm.update',
  'vm.action',
  'vm.delete',
  'vm.console',
  'vm.migrate',
  'image.read',
  'image.import',
  'image.delete',
  'operation.read',
  'operation.cancel',
  'project.read',
  'host.read',
  'host.manage',
  'project.manage',
  'user.read',
  'user.manage',
  'audit.read',
  'event.read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value);
}

const VIEWER: readonly Permission[] = [
  'vm.read',
  'image.read',
  'operation.read',
  'project.read',
  'event.read',
  'host.read',
];
const OPERATOR: readonly Permission[] = [
  ...VIEWER,
  'vm.create',
  'vm.update',
  'vm.action',
  'vm.delete',
  'vm.console',
  'vm.migrate',
  'image.import',
  'image.delete',
  'operation.cancel',
];

/**
 * What each role may do inside a project it is bound to. A project admin does what an operator
 * does and may also hand out API tokens with the admin role (see canDelegate).
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  viewer: new Set(VIEWER),
  operator: new Set(OPERATOR),
  admin: new Set(OPERATOR),
};

/** Permissions that act on the cluster, not on one project: only a global admin has them. */
const CLUSTER_WIDE: ReadonlySet<Permission> = new Set([
  'host.manage',
  'project.manage',
  'user.read',
  'user.manage',
  'audit.read',
]);

export interface RoleBinding {
  project: string;
  role: Role;
}

/** The authenticated caller of one request. */
export interface Principal {
  /** A logged-in user, or an API token acting for its creator within its project and role. */
  kind: 'user' | 'token';
  userId: string;
  username: string;
  /** The login session (users). */
  sessionId?: string;
  /** The API token (tokens). */
  tokenId?: string;
  /** Admin of every project and of the cluster (the bootstrap admin). Never true for a token. */
  global: boolean;
  bindings: readonly RoleBinding[];
}

export type Decision =
  | { allow: true }
  | {
      allow: false;
      /**
       * `not-member`: the caller has no role in the project, so the project and what it holds
       * must look absent (404); `forbidden`: it sees the project but may not do this (403).
       */
      reason: 'not-member' | 'forbidden';
      message: string;
    };

/**
 * Whether `principal` may do `permission` on something in `project` (null: a cluster-wide
 * thing, or a list the caller filters to its own projects). Pure: the same inputs always give
 * the same decision.
 */
export function authorize(
  principal: Principal | undefined,
  permission: Permission,
  project: string | null,
): Decision {
  if (permission === 'public') return { allow: true };
  if (principal === undefined) {
    return { allow: false, reason: 'forbidden', message: 'this call needs a token' };
  }
  if (permission === 'self') return { allow: true };
  if (principal.global) return { allow: true };
  if (CLUSTER_WIDE.has(permission)) {
    return {
      allow: false,
      reason: 'forbidden',
      message: `'${permission}' needs the cluster admin role`,
    };
  }
  if (project === null) {
    // A list or a cluster-wide read: allowed to anyone who holds the permission somewhere.
    return principal.bindings.some((b) => ROLE_PERMISSIONS[b.role].has(permission))
      ? { allow: true }
      : { allow: false, reason: 'forbidden', message: `no role of yours allows '${permission}'` };
  }
  const binding = principal.bindings.find((b) => b.project === project);
  if (binding === undefined) {
    return { allow: false, reason: 'not-member', message: `no role in project '${project}'` };
  }
  return ROLE_PERMISSIONS[binding.role].has(permission)
    ? { allow: true }
    : {
        allow: false,
        reason: 'forbidden',
        message: `the ${binding.role} role in project '${project}' does not allow '${permission}'`,
      };
}

/**
 * The projects whose resources `principal` may list for `permission`; undefined means every
 * project (a global admin).
 */
export function visibleProjects(
  principal: Principal,
  permission: Permission,
): string[] | undefined {
  if (principal.global) return undefined;
  return principal.bindings
    .filter((b) => ROLE_PERMISSIONS[b.role].has(permission))
    .map((b) => b.project);
}

const RANK: Readonly<Record<Role, number>> = { viewer: 0, operator: 1, admin: 2 };

/**
 * Whether `principal` may create an API token acting in `project` with `role`: never more than
 * its own role there; tokens cannot create tokens.
 */
export function canDelegate(principal: Principal, project: string, role: Role): boolean {
  if (principal.kind === 'token') return false;
  if (principal.global) return true;
  const binding = principal.bindings.find((b) => b.project === project);
  return binding !== undefined && RANK[binding.role] >= RANK[role];
}
