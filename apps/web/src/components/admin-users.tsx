'use client';

import { ROLE_NAMES, type RoleName, type User, type UserCreate } from '@novacron/api';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ColumnDef } from '@tanstack/react-table';
import { useMemo, useState, type FormEvent } from 'react';
import { useApi, useSession } from '../lib/session';
import { ConfirmDialog } from './confirm-dialog';
import { createdAtColumn, DataTable } from './data-table';
import { Dialog, FormActions } from './dialog';
import { ListToolbar } from './list-toolbar';
import { Badge, Button, EmptyState, ErrorBox, Field, Input, Select } from './ui';

export function useUsers() {
  const api = useApi();
  return useQuery({ queryKey: ['users'], queryFn: () => api.users.list() });
}

export function useProjects() {
  const api = useApi();
  return useQuery({ queryKey: ['projects'], queryFn: () => api.projects.list() });
}

function CreateUserDialog({
  open,
  onOpenChange,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const api = useApi();
  const queries = useQueryClient();
  const projects = useProjects();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [clusterAdmin, setClusterAdmin] = useState(false);
  const [role, setRole] = useState<RoleName>('viewer');
  const [project, setProject] = useState('');
  const create = useMutation({
    mutationFn: (request: UserCreate) => api.users.create(request),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ['users'] });
      onOpenChange(false);
      setUsername('');
      setPassword('');
      setClusterAdmin(false);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(
      clusterAdmin
        ? { username, password, clusterAdmin: true }
        : { username, password, role, ...(project === '' ? {} : { project }) },
    );
  };
  return (
    <Dialog open={open} onOpenChange={onOpenChange} title="Create a user">
      <form className="flex flex-col gap-3" onSubmit={submit}>
        <Field label="Username" hint="Lowercase letters, digits, - and _">
          {(props) => (
            <Input
              {...props}
              required
              autoComplete="off"
              value={username}
              onChange={(e) => setUsername(e.target.value)}
            />
          )}
        </Field>
        <Field label="Initial password" hint="At least 8 characters; tell it to the user">
          {(props) => (
            <Input
              {...props}
              type="password"
              required
              minLength={8}
              autoComplete="new-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        <label className="flex items-center gap-2 text-sm">
          <input
            type="checkbox"
            checked={clusterAdmin}
            onChange={(e) => setClusterAdmin(e.target.checked)}
          />
          Cluster admin (every permission in every project)
        </label>
        {clusterAdmin ? null : (
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Role">
              {(props) => (
                <Select
                  {...props}
                  value={role}
                  onChange={(e) => setRole(e.target.value as RoleName)}
                >
                  {ROLE_NAMES.map((name) => (
                    <option key={name} value={name}>
                      {name}
                    </option>
                  ))}
                </Select>
              )}
            </Field>
            <Field label="In project">
              {(props) => (
                <Select {...props} value={project} onChange={(e) => setProject(e.target.value)}>
                  <option value="">default</option>
                  {(projects.data?.items ?? [])
                    .filter((p) => p.name !== 'default')
                    .map((p) => (
                      <option key={p.id} value={p.name}>
                        {p.name}
                      </option>
                    ))}
                </Select>
              )}
            </Field>
          </div>
        )}
        <FormActions
          error={create.error}
          errorTitle="The user was not created"
          onCancel={() => onOpenChange(false)}
          submitLabel="Create user"
          busy={create.isPending}
        />
      </form>
    </Dialog>
  );
}

function PasswordDialog({ user, onClose }: { user: User | undefined; onClose: () => void }) {
  const api = useApi();
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const change = useMutation({
    mutationFn: () => api.users.setPassword(user?.username ?? '', password),
    onSuccess: () => {
      setPassword('');
      setDone(true);
    },
  });
  const close = () => {
    setDone(false);
    setPassword('');
    change.reset();
    onClose();
  };
  return (
    <Dialog
      open={user !== undefined}
      onOpenChange={(open) => {
        if (!open) close();
      }}
      title={`Reset the password of ${user?.username ?? ''}`}
      description="The user logs in with the new password from now on."
    >
      {done ? (
        <div className="flex flex-col gap-3">
          <p role="status" className="text-sm">
            The password of {user?.username} was changed.
          </p>
          <div className="flex justify-end">
            <Button variant="primary" onClick={close}>
              Done
            </Button>
          </div>
        </div>
      ) : (
        <form
          className="flex flex-col gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            change.mutate();
          }}
        >
          <Field label="New password" hint="At least 8 characters">
            {(props) => (
              <Input
                {...props}
                type="password"
                required
                minLength={8}
                autoComplete="new-password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            )}
          </Field>
          <FormActions
            error={change.error}
            errorTitle="The password was not changed"
            onCancel={close}
            submitLabel="Set password"
            busy={change.isPending}
          />
        </form>
      )}
    </Dialog>
  );
}

function SecondFactorDialog({ user, onClose }: { user: User | undefined; onClose: () => void }) {
  const api = useApi();
  const [answer, setAnswer] = useState<boolean | undefined>(undefined);
  const change = useMutation({
    mutationFn: (required: boolean) => api.setTotpRequired(user?.username ?? '', required),
    onSuccess: (result) => setAnswer(result.required),
  });
  const close = () => {
    setAnswer(undefined);
    change.reset();
    onClose();
  };
  return (
    <Dialog
      open={user !== undefined}
      onOpenChange={(open) => {
        if (!open) close();
      }}
      title={`Second factor of ${user?.username ?? ''}`}
      description="Required: the user must enrol a TOTP app at the next login, and give its code at every login."
    >
      {answer === undefined ? null : (
        <p role="status" className="mb-3 text-sm">
          A second factor is {answer ? 'now required' : 'no longer required'} of {user?.username}.
        </p>
      )}
      <ErrorBox error={change.error} title="The change was refused" />
      <div className="mt-3 flex flex-wrap justify-end gap-2">
        <Button busy={change.isPending && change.variables} onClick={() => change.mutate(true)}>
          Require it
        </Button>
        <Button busy={change.isPending && !change.variables} onClick={() => change.mutate(false)}>
          Stop requiring it
        </Button>
        <Button variant="primary" onClick={close}>
          Close
        </Button>
      </div>
    </Dialog>
  );
}

/** A change to one of a user's roles: `role` null takes the role in `project` away. */
interface RoleChange {
  project: string;
  role: RoleName | null;
}

/** A user's roles, one per project: change one, take one away, or give one in another project. */
function RolesDialog({ user, onClose }: { user: User | undefined; onClose: () => void }) {
  const api = useApi();
  const queries = useQueryClient();
  const users = useUsers();
  const projects = useProjects();
  const [grantProject, setGrantProject] = useState('');
  const [grantRole, setGrantRole] = useState<RoleName>('viewer');
  const username = user?.username ?? '';
  const update = useMutation({
    mutationFn: ({ project, role }: RoleChange) =>
      role === null
        ? api.users.removeRole(username, project)
        : api.users.setRole(username, project, role),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ['users'] });
    },
  });
  // The roles as the users list has them now, so that each change shows once it is made.
  const bindings = (users.data?.items.find((u) => u.id === user?.id) ?? user)?.bindings ?? [];
  const grantable = (projects.data?.items ?? []).filter(
    (p) => !bindings.some((b) => b.project === p.name),
  );
  const pending = update.isPending ? update.variables : undefined;
  const close = () => {
    setGrantProject('');
    setGrantRole('viewer');
    update.reset();
    onClose();
  };
  const roleOptions = ROLE_NAMES.map((name) => (
    <option key={name} value={name}>
      {name}
    </option>
  ));
  return (
    <Dialog
      open={user !== undefined}
      onOpenChange={(open) => {
        if (!open) close();
      }}
      title={`Roles of ${username}`}
      description="A change applies from the user's next request; API tokens above the new role stop working."
    >
      {bindings.length === 0 ? (
        <p className="mb-3 text-sm text-muted">No role in any project.</p>
      ) : (
        <ul aria-label={`Roles of ${username}`} className="mb-3 flex flex-col gap-2">
          {bindings.map((binding) => (
            <li key={binding.project} className="flex items-center gap-2">
              <span className="min-w-0 flex-1 truncate text-sm font-medium">{binding.project}</span>
              <div className="w-32">
                <Select
                  aria-label={`Role in ${binding.project}`}
                  value={binding.role}
                  disabled={update.isPending}
                  onChange={(e) =>
                    update.mutate({ project: binding.project, role: e.target.value as RoleName })
                  }
                >
                  {roleOptions}
                </Select>
              </div>
              <Button
                variant="danger"
                aria-label={`Remove the role in ${binding.project}`}
                busy={pending?.project === binding.project && pending.role === null}
                disabled={update.isPending}
                onClick={() => update.mutate({ project: binding.project, role: null })}
              >
                Remove
              </Button>
            </li>
          ))}
        </ul>
      )}
      <form
        className="flex flex-col gap-3 border-t border-line pt-3"
        onSubmit={(e) => {
          e.preventDefault();
          update.mutate(
            { project: grantProject, role: grantRole },
            { onSuccess: () => setGrantProject('') },
          );
        }}
      >
        <div className="grid gap-3 sm:grid-cols-2">
          <Field label="Project">
            {(props) => (
              <Select
                {...props}
                required
                value={grantProject}
                onChange={(e) => setGrantProject(e.target.value)}
              >
                <option value="" disabled>
                  {grantable.length === 0 ? 'A role in every project' : 'Choose a project'}
                </option>
                {grantable.map((p) => (
                  <option key={p.id} value={p.name}>
                    {p.name}
                  </option>
                ))}
              </Select>
            )}
          </Field>
          <Field label="Role">
            {(props) => (
              <Select
                {...props}
                value={grantRole}
                onChange={(e) => setGrantRole(e.target.value as RoleName)}
              >
                {roleOptions}
              </Select>
            )}
          </Field>
        </div>
        <ErrorBox error={update.error} title="The role was not changed" />
        <div className="flex justify-end gap-2">
          <Button
            type="submit"
            busy={pending?.project === grantProject}
            disabled={grantProject === '' || update.isPending}
          >
            Grant role
          </Button>
          <Button variant="primary" onClick={close}>
            Done
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

export function UsersPanel() {
  const api = useApi();
  const queries = useQueryClient();
  const { session } = useSession();
  const users = useUsers();
  const [search, setSearch] = useState('');
  const [creating, setCreating] = useState(false);
  const [resetting, setResetting] = useState<User | undefined>(undefined);
  const [factor, setFactor] = useState<User | undefined>(undefined);
  const [roles, setRoles] = useState<User | undefined>(undefined);
  const [toDelete, setToDelete] = useState<User | undefined>(undefined);
  const remove = useMutation({
    mutationFn: (user: User) => api.users.delete(user.username),
    onSuccess: () => {
      setToDelete(undefined);
      void queries.invalidateQueries({ queryKey: ['users'] });
    },
  });

  const columns = useMemo<ColumnDef<User, unknown>[]>(
    () => [
      {
        id: 'username',
        header: 'Username',
        accessorKey: 'username',
        cell: ({ row }) => <span className="font-medium">{row.original.username}</span>,
      },
      {
        id: 'roles',
        header: 'Roles',
        accessorFn: (user) =>
          user.clusterAdmin
            ? 'cluster admin'
            : user.bindings.map((b) => `${b.role} in ${b.project}`).join(', '),
        cell: ({ row }) => (
          <span className="flex flex-wrap gap-1">
            {row.original.clusterAdmin ? <Badge tone="warn">cluster admin</Badge> : null}
            {row.original.bindings.map((b) => (
              <Badge key={`${b.project}:${b.role}`} tone="info">
                {b.role} in {b.project}
              </Badge>
            ))}
            {!row.original.clusterAdmin && row.original.bindings.length === 0 ? (
              <span className="text-muted">none</span>
            ) : null}
          </span>
        ),
      },
      createdAtColumn<User>('created', 'Created'),
      {
        id: 'actions',
        header: '',
        enableSorting: false,
        cell: ({ row }) => (
          <span className="flex flex-wrap justify-end gap-1.5">
            <Button
              aria-label={`Roles of ${row.original.username}`}
              disabled={row.original.clusterAdmin}
              title={
                row.original.clusterAdmin
                  ? 'A cluster admin has every role in every project'
                  : undefined
              }
              onClick={() => setRoles(row.original)}
            >
              Roles
            </Button>
            <Button
              aria-label={`Reset the password of ${row.original.username}`}
              onClick={() => setResetting(row.original)}
            >
              Password
            </Button>
            <Button
              aria-label={`Second factor of ${row.original.username}`}
              onClick={() => setFactor(row.original)}
            >
              2FA
            </Button>
            <Button
              variant="danger"
              aria-label={`Delete user ${row.original.username}`}
              disabled={row.original.username === session?.username}
              title={
                row.original.username === session?.username
                  ? 'You cannot delete yourself'
                  : undefined
              }
              onClick={() => {
                remove.reset();
                setToDelete(row.original);
              }}
            >
              Delete
            </Button>
          </span>
        ),
      },
    ],
    [remove, session?.username],
  );

  return (
    <div className="flex flex-col gap-3">
      <ListToolbar
        searchLabel="Search users"
        search={search}
        onSearch={setSearch}
        actionLabel="Create user"
        onAction={() => setCreating(true)}
      />
      <DataTable
        label="Users"
        rows={users.data?.items}
        columns={columns}
        getRowId={(user) => user.id}
        search={search}
        loading={users.isLoading}
        error={users.error}
        empty={
          <EmptyState
            title="No users"
            action={
              <Button variant="primary" onClick={() => setCreating(true)}>
                Create a user
              </Button>
            }
          />
        }
      />
      <CreateUserDialog open={creating} onOpenChange={setCreating} />
      <PasswordDialog user={resetting} onClose={() => setResetting(undefined)} />
      <SecondFactorDialog user={factor} onClose={() => setFactor(undefined)} />
      <RolesDialog user={roles} onClose={() => setRoles(undefined)} />
      <ConfirmDialog
        item={toDelete}
        onClose={() => setToDelete(undefined)}
        title={`Delete user ${toDelete?.username ?? ''}?`}
        description="The user can no longer log in; their sessions and API tokens stop working."
        error={remove.error}
        errorTitle="The delete was refused"
        busy={remove.isPending}
        confirmLabel="Delete"
        onConfirm={(item) => remove.mutate(item)}
      />
    </div>
  );
}
