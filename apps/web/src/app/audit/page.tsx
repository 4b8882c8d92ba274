'use client';

import type { AuditEntry } from '@novacron/api';
import type { ColumnDef } from '@tanstack/react-table';
import { useId, useState, type FormEvent } from 'react';
import { useUsers } from '../../components/admin-users';
import { DataTable, Pager, usePagedList } from '../../components/data-table';
import { SearchField, StaleListError } from '../../components/list-toolbar';
import { Badge, Button, EmptyState, Field, Input, PageHeader } from '../../components/ui';
import { useApi } from '../../lib/session';

const columns: ColumnDef<AuditEntry, unknown>[] = [
  {
    id: 'time',
    header: 'Time',
    accessorKey: 'time',
    cell: ({ row }) => (
      <time dateTime={row.original.time} className="whitespace-nowrap tabular-nums">
        {new Date(row.original.time).toLocaleString()}
      </time>
    ),
  },
  {
    id: 'actor',
    header: 'User',
    accessorFn: (entry) => entry.actor ?? '',
    cell: ({ row }) => row.original.actor ?? <span className="text-muted">unknown</span>,
  },
  {
    id: 'action',
    header: 'Action',
    accessorKey: 'action',
    cell: ({ row }) => <code className="text-xs">{row.original.action}</code>,
  },
  {
    id: 'target',
    header: 'Target',
    accessorFn: (entry) =>
      entry.target === null
        ? ''
        : `${entry.target.type} ${entry.target.name ?? entry.target.id ?? ''}`,
    cell: ({ row }) => {
      const target = row.original.target;
      if (target === null) return <span className="text-muted">–</span>;
      return (
        <span title={target.id ?? undefined}>
          <span className="text-muted">{target.type}</span> {target.name ?? target.id ?? ''}
        </span>
      );
    },
  },
  {
    id: 'project',
    header: 'Project',
    accessorFn: (entry) => entry.project ?? '',
    cell: ({ row }) => row.original.project ?? <span className="text-muted">–</span>,
  },
  {
    id: 'result',
    header: 'Result',
    accessorKey: 'result',
    cell: ({ row }) => (
      <Badge tone={row.original.result === 'success' ? 'ok' : 'bad'}>{row.original.result}</Badge>
    ),
  },
  { id: 'source', header: 'From', accessorKey: 'sourceAddress' },
  {
    id: 'details',
    header: 'Details',
    enableSorting: false,
    accessorFn: (entry) => JSON.stringify(entry.details),
    cell: ({ row }) => (
      <details>
        <summary className="cursor-pointer text-xs text-accent">Show</summary>
        <pre className="mt-1 max-w-sm overflow-auto font-mono text-xs whitespace-pre-wrap">
          {JSON.stringify(row.original.details, null, 2)}
        </pre>
      </details>
    ),
  },
];

interface Filters {
  user: string;
  action: string;
  since: string;
  until: string;
}

const NO_FILTERS: Filters = { user: '', action: '', since: '', until: '' };

/** A `datetime-local` value (the viewer's zone) as the ISO time the API takes. */
function isoOf(local: string): string | undefined {
  if (local === '') return undefined;
  const at = new Date(local);
  return Number.isFinite(at.getTime()) ? at.toISOString() : undefined;
}

export default function AuditPage() {
  const api = useApi();
  const users = useUsers();
  const actionsId = useId();
  const usersId = useId();
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [applied, setApplied] = useState<Filters>(NO_FILTERS);
  const [search, setSearch] = useState('');
  const since = isoOf(applied.since);
  const until = isoOf(applied.until);
  const query = {
    ...(applied.user === '' ? {} : { user: applied.user }),
    ...(applied.action === '' ? {} : { action: applied.action }),
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
  };
  const list = usePagedList('audit', query, (page) => api.audit.list({ ...page, ...query }));
  const filtered = Object.keys(query).length > 0;
  // Actions seen on this page, offered as suggestions (the filter matches an action exactly).
  const actions = [...new Set((list.items ?? []).map((entry) => entry.action))].sort();

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setApplied({ ...draft, user: draft.user.trim(), action: draft.action.trim() });
    list.reset();
  };
  const clear = () => {
    setDraft(NO_FILTERS);
    setApplied(NO_FILTERS);
    list.reset();
  };

  return (
    <>
      <PageHeader
        title="Audit log"
        subtitle="Every change and every refused request: who, what, on what, from where; newest first"
      />
      <form
        className="mb-3 grid items-end gap-3 sm:grid-cols-2 lg:grid-cols-5"
        onSubmit={apply}
        aria-label="Audit filters"
      >
        <Field label="User">
          {(props) => (
            <Input
              {...props}
              list={usersId}
              value={draft.user}
              onChange={(e) => setDraft({ ...draft, user: e.target.value })}
            />
          )}
        </Field>
        <datalist id={usersId}>
          {(users.data?.items ?? []).map((user) => (
            <option key={user.id} value={user.username} />
          ))}
        </datalist>
        <Field label="Action">
          {(props) => (
            <Input
              {...props}
              placeholder="Exact, e.g. user.manage"
              list={actionsId}
              value={draft.action}
              onChange={(e) => setDraft({ ...draft, action: e.target.value })}
            />
          )}
        </Field>
        <datalist id={actionsId}>
          {actions.map((action) => (
            <option key={action} value={action} />
          ))}
        </datalist>
        <Field label="From">
          {(props) => (
            <Input
              {...props}
              type="datetime-local"
              value={draft.since}
              onChange={(e) => setDraft({ ...draft, since: e.target.value })}
            />
          )}
        </Field>
        <Field label="Until">
          {(props) => (
            <Input
              {...props}
              type="datetime-local"
              value={draft.until}
              onChange={(e) => setDraft({ ...draft, until: e.target.value })}
            />
          )}
        </Field>
        <div className="flex gap-2 pb-0.5">
          <Button type="submit" variant="primary">
            Apply filters
          </Button>
          <Button onClick={clear} disabled={!filtered}>
            Clear
          </Button>
        </div>
      </form>
      <div className="mb-3 max-w-xs">
        <SearchField
          label="Search"
          placeholder="Any column (this page)"
          value={search}
          onChange={setSearch}
        />
      </div>
      <DataTable
        label="Audit log"
        rows={list.items}
        columns={columns}
        getRowId={(entry) => String(entry.seq)}
        search={search}
        loading={list.query.isLoading}
        error={list.query.error}
        empty={
          filtered ? (
            <EmptyState
              title="No entry matches these filters"
              action={<Button onClick={clear}>Clear the filters</Button>}
            >
              The action filter matches a whole action name, such as <code>user.manage</code>.
            </EmptyState>
          ) : (
            <EmptyState title="Nothing audited yet">
              Every change made through the API (a login, a VM created, a user added) is recorded
              here.
            </EmptyState>
          )
        }
      />
      <StaleListError
        error={list.query.error}
        shown={list.items !== undefined}
        title="Cannot read the audit log"
      />
      <Pager list={list} noun="entries" />
    </>
  );
}
