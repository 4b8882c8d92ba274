'use client';

import {
  MAX_API_TOKEN_TTL_DAYS,
  ROLE_NAMES,
  type ApiToken,
  type ApiTokenCreate,
  type ApiTokenCreated,
  type RoleName,
} from '@novacron/api';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ColumnDef } from '@tanstack/react-table';
import { useMemo, useState, type FormEvent } from 'react';
import { formatAgo } from '../lib/format';
import { useApi } from '../lib/session';
import { useProjects } from './admin-users';
import { ConfirmDialog } from './confirm-dialog';
import { DataTable } from './data-table';
import { Dialog, FormActions } from './dialog';
import { ListToolbar } from './list-toolbar';
import { Badge, Button, EmptyState, Field, Input, Select } from './ui';

function tokenState(token: ApiToken, now: number = Date.now()): 'revoked' | 'expired' | 'active' {
  if (token.revokedAt !== null) return 'revoked';
  return Date.parse(token.expiresAt) <= now ? 'expired' : 'active';
}

/** Copies text to the clipboard, and says whether it could. */
function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState<boolean | undefined>(undefined);
  return (
    <Button
      aria-label={label}
      onClick={() => {
        navigator.clipboard.writeText(text).then(
          () => setCopied(true),
          () => setCopied(false),
        );
      }}
    >
      {copied === true ? 'Copied' : copied === false ? 'Copy refused: select it' : 'Copy'}
    </Button>
  );
}

function CreateTokenDialog({
  open,
  onOpenChange,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const api = useApi();
  const queries = useQueryClient();
  const projects = useProjects();
  const [name, setName] = useState('');
  const [project, setProject] = useState('');
  const [role, setRole] = useState<RoleName>('viewer');
  const [days, setDays] = useState('90');
  const [created, setCreated] = useState<ApiTokenCreated | undefined>(undefined);
  const create = useMutation({
    mutationFn: (request: ApiTokenCreate) => api.tokens.create(request),
    onSuccess: (token) => {
      setCreated(token);
      void queries.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const close = () => {
    // The secret is gone from the page once the dialog closes: it is never shown again.
    setCreated(undefined);
    setName('');
    create.reset();
    onOpenChange(false);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({
      name: name.trim(),
      role,
      ...(project === '' ? {} : { project }),
      ...(days.trim() === '' ? {} : { expiresInDays: Number(days) }),
    });
  };
  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        if (!next) close();
      }}
      title={created === undefined ? 'Create an API token' : `Token ${created.name} created`}
      description={
        created === undefined
          ? 'A token acts as you, within one project and role, until it expires or is revoked.'
          : 'Copy the token now: it is shown this once and never again.'
      }
      wide
    >
      {created === undefined ? (
        <form className="flex flex-col gap-3" onSubmit={submit}>
          <Field label="Token name" hint="What uses it, e.g. ci-deploy">
            {(props) => (
              <Input {...props} required value={name} onChange={(e) => setName(e.target.value)} />
            )}
          </Field>
          <div className="grid gap-3 sm:grid-cols-3">
            <Field label="Project">
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
            <Field label="Token role" hint="At most your own role there">
              {(props) => (
                <Select
                  {...props}
                  value={role}
                  onChange={(e) => setRole(e.target.value as RoleName)}
                >
                  {ROLE_NAMES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </Select>
              )}
            </Field>
            <Field label="Expires in (days)">
              {(props) => (
                <Input
                  {...props}
                  type="number"
                  min={1}
                  max={MAX_API_TOKEN_TTL_DAYS}
                  value={days}
                  onChange={(e) => setDays(e.target.value)}
                />
              )}
            </Field>
          </div>
          <FormActions
            error={create.error}
            errorTitle="The token was not created"
            onCancel={close}
            submitLabel="Create token"
            busy={create.isPending}
          />
        </form>
      ) : (
        <div className="flex flex-col gap-3">
          <Field
            label="Token secret"
            hint={`Expires ${new Date(created.expiresAt).toLocaleString()}`}
          >
            {(props) => (
              <Input
                {...props}
                readOnly
                className="font-mono"
                value={created.token}
                data-testid="token-secret"
                onFocus={(e) => e.target.select()}
              />
            )}
          </Field>
          <p className="text-sm text-muted">
            Use it as <code>Authorization: Bearer …</code>, or with the CLI as{' '}
            <code>NOVACRON_TOKEN</code>.
          </p>
          <div className="flex justify-end gap-2">
            <CopyButton text={created.token} label="Copy the token" />
            <Button variant="primary" onClick={close}>
              Done
            </Button>
          </div>
        </div>
      )}
    </Dialog>
  );
}

export function TokensPanel() {
  const api = useApi();
  const queries = useQueryClient();
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => api.tokens.list() });
  const [creating, setCreating] = useState(false);
  const [toRevoke, setToRevoke] = useState<ApiToken | undefined>(undefined);
  const [search, setSearch] = useState('');
  const revoke = useMutation({
    mutationFn: (token: ApiToken) => api.tokens.revoke(token.id),
    onSuccess: () => {
      setToRevoke(undefined);
      void queries.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const columns = useMemo<ColumnDef<ApiToken, unknown>[]>(
    () => [
      {
        id: 'name',
        header: 'Name',
        accessorKey: 'name',
        cell: ({ row }) => <span className="font-medium">{row.original.name}</span>,
      },
      { id: 'user', header: 'User', accessorKey: 'username' },
      {
        id: 'scope',
        header: 'Scope',
        accessorFn: (t) => `${t.role} in ${t.project}`,
      },
      {
        id: 'state',
        header: 'State',
        accessorFn: (t) => tokenState(t),
        cell: ({ row }) => {
          const state = tokenState(row.original);
          return (
            <span data-token-state={state}>
              <Badge tone={state === 'active' ? 'ok' : 'muted'}>{state}</Badge>
            </span>
          );
        },
      },
      {
        id: 'expires',
        header: 'Expires',
        accessorKey: 'expiresAt',
        cell: ({ row }) => new Date(row.original.expiresAt).toLocaleDateString(),
      },
      {
        id: 'used',
        header: 'Last used',
        accessorFn: (t) => t.lastUsedAt ?? '',
        cell: ({ row }) => formatAgo(row.original.lastUsedAt),
      },
      {
        id: 'actions',
        header: '',
        enableSorting: false,
        cell: ({ row }) =>
          row.original.revokedAt === null ? (
            <Button
              variant="danger"
              aria-label={`Revoke token ${row.original.name}`}
              onClick={() => {
                revoke.reset();
                setToRevoke(row.original);
              }}
            >
              Revoke
            </Button>
          ) : null,
      },
    ],
    [revoke],
  );
  return (
    <div className="flex flex-col gap-3">
      <ListToolbar
        searchLabel="Search tokens"
        search={search}
        onSearch={setSearch}
        actionLabel="Create token"
        onAction={() => setCreating(true)}
      />
      <DataTable
        label="API tokens"
        rows={tokens.data?.items}
        columns={columns}
        getRowId={(t) => t.id}
        search={search}
        loading={tokens.isLoading}
        error={tokens.error}
        empty={
          <EmptyState
            title="No API tokens"
            action={
              <Button variant="primary" onClick={() => setCreating(true)}>
                Create a token
              </Button>
            }
          >
            Scripts and CI use a token instead of a password; each is limited to one project and
            role.
          </EmptyState>
        }
      />
      <CreateTokenDialog open={creating} onOpenChange={setCreating} />
      <ConfirmDialog
        item={toRevoke}
        onClose={() => setToRevoke(undefined)}
        title={`Revoke token ${toRevoke?.name ?? ''}?`}
        description="Requests with it are refused from now on. This cannot be undone."
        error={revoke.error}
        errorTitle="The revoke was refused"
        busy={revoke.isPending}
        confirmLabel="Revoke"
        onConfirm={(item) => revoke.mutate(item)}
      />
    </div>
  );
}
