import type { User } from '@novacron/api';
import { isRole } from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import type { User as StoredUser } from '@novacron/store';
import type { ServerDeps } from '../../deps.js';

/** A user as the API shows it: never its password hash. */
export async function userView(deps: ServerDeps, user: StoredUser): Promise<User> {
  const bindings = (await deps.store.users.bindings(user.id)).flatMap((binding) =>
    isRole(binding.role) ? [{ project: binding.project, role: binding.role }] : [],
  );
  return {
    id: user.id,
    username: user.username,
    clusterAdmin: user.role === 'admin',
    bindings,
    createdAt: user.createdAt,
  };
}

/** The user named `username` (or with that id), else USER_NOT_FOUND. */
export async function requireUser(deps: ServerDeps, username: string): Promise<StoredUser> {
  const user =
    (await deps.store.users.getByUsername(username)) ?? (await deps.store.users.get(username));
  if (user === undefined) {
    throw new DomainError('USER_NOT_FOUND', `user '${username}' not found`, { username });
  }
  return user;
}

/**
 * The user named `username`, when roles in projects mean something for it: a cluster admin has
 * every role in every project, so a binding would change nothing (VALIDATION_FAILED).
 */
export async function requireProjectUser(deps: ServerDeps, username: string): Promise<StoredUser> {
  const user = await requireUser(deps, username);
  if (user.role === 'admin') {
    throw new DomainError(
      'VALIDATION_FAILED',
      `user '${user.username}' is a cluster admin: it has every role in every project`,
      { field: 'username', username: user.username },
    );
  }
  return user;
}
