'use client';

import {
  OPERATION_KINDS,
  OPERATION_STATUSES,
  type Operation,
  type OperationKind,
  type OperationStatus,
} from '@novacron/api';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { ColumnDef } from '@tanstack/react-table';
import Link from 'next/link';
import { useEffect, useMemo, useState } from 'react';
import { createdAtColumn, DataTable, Pager, usePagedList } from '../../components/data-table';
import { SearchField, StaleListError } from '../../components/list-toolbar';
import {
  Button,
  EmptyState,
  ErrorBox,
  Field,
  Input,
  PageHeader,
  ProgressBar,
  Select,
  StateBadge,
} from '../../components/ui';
import { formatDuration } from '../../lib/format';
import { elapsedMs, isActive, laterOf, operationHref, targetHref } from '../../lib/operations';
import { useApi } from '../../lib/session';

/** Cancels one operation; the answer (and then its events) update the caches. */
function useCancel() {
  const api = useApi();
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (operation: Operation) => api.operations.cancel(operation.id),
    onSuccess: (operation) => {
      queries.setQueryData<Operation>(['operation', operation.id], (cached) =>
        laterOf(cached, operation),
      );
      void queries.invalidateQueries({ queryKey: ['operations'] });
    },
  });
}

export default function OperationsPage() {
  const api = useApi();
  const [status, setStatus] = useState<OperationStatus | ''>('');
  const [kind, setKind] = useState<OperationKind | ''>('');
  const [targetText, setTargetText] = useState('');
  const [target, setTarget] = useState('');
  const [search, setSearch] = useState('');
  const cancel = useCancel();
  const filters = {
    ...(status === '' ? {} : { status }),
    ...(kind === '' ? {} : { kind }),
    ...(target === '' ? {} : { target }),
  };
  const list = usePagedList('operations', filters, (query) =>
    api.operations.list({ ...query, ...filters }),
  );
  const filtered = status !== '' || kind !== '' || target !== '';
  const applyTarget = () => {
    if (targetText.trim() !== target) {
      setTarget(targetText.trim());
      list.reset();
    }
  };
  // Running operations' durations tick; finished ones stand still.
  const anyActive = (list.items ?? []).some(isActive);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!anyActive) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [anyActive]);

  const columns = useMemo<ColumnDef<Operation, unknown>[]>(
    () => [
      {
        id: 'kind',
        header: 'Operation',
        accessorKey: 'kind',
        cell: ({ row }) => (
          <Link
            href={operationHref(row.original)}
            className="font-medium text-accent hover:underline"
          >
            {row.original.kind}
          </Link>
        ),
      },
      {
        id: 'target',
        header: 'Target',
        accessorFn: (op) => `${op.target.type} ${op.target.name}`,
        cell: ({ row }) => (
          <Link href={targetHref(row.original.target)} className="hover:underline">
            <span className="text-muted">{row.original.target.type}</span>{' '}
            {row.original.target.name}
          </Link>
        ),
      },
      {
        id: 'status',
        header: 'Status',
        accessorKey: 'status',
        cell: ({ row }) => <StateBadge state={row.original.status} />,
      },
      {
        id: 'progress',
        header: 'Progress',
        accessorKey: 'progress',
        cell: ({ row }) => {
          const op = row.original;
          return (
            <div className="flex min-w-32 flex-col gap-1">
              <span className="text-xs text-muted tabular-nums">
                {op.phase} · {Math.round(op.progress)} %
              </span>
              <ProgressBar
                value={op.progress}
                label={`${op.kind} of ${op.target.name}`}
                tone={
                  op.status === 'failed'
                    ? 'bad'
                    : op.status === 'succeeded'
                      ? 'ok'
                      : op.status === 'cancelled'
                        ? 'muted'
                        : 'info'
                }
              />
            </div>
          );
        },
      },
      createdAtColumn<Operation>('started', 'Started'),
      {
        id: 'took',
        header: 'Took',
        accessorFn: (op) => elapsedMs(op, now),
        cell: ({ row }) => (
          <span className="tabular-nums">{formatDuration(elapsedMs(row.original, now))}</span>
        ),
      },
      {
        id: 'actions',
        header: '',
        enableSorting: false,
        cell: ({ row }) =>
          isActive(row.original) ? (
            <Button
              variant="danger"
              aria-label={`Cancel ${row.original.kind} of ${row.original.target.name}`}
              busy={cancel.isPending && cancel.variables.id === row.original.id}
              onClick={() => cancel.mutate(row.original)}
            >
              Cancel
            </Button>
          ) : null,
      },
    ],
    [cancel, now],
  );

  return (
    <>
      <PageHeader
        title="Operations"
        subtitle="Long-running work, newest first; progress follows as it happens"
      />
      <form
        className="mb-3 grid gap-3 sm:grid-cols-2 lg:grid-cols-4"
        onSubmit={(e) => {
          e.preventDefault();
          applyTarget();
        }}
      >
        <Field label="Status">
          {(props) => (
            <Select
              {...props}
              value={status}
              onChange={(e) => {
                setStatus(e.target.value as OperationStatus | '');
                list.reset();
              }}
            >
              <option value="">Any status</option>
              {OPERATION_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </Select>
          )}
        </Field>
        <Field label="Kind">
          {(props) => (
            <Select
              {...props}
              value={kind}
              onChange={(e) => {
                setKind(e.target.value as OperationKind | '');
                list.reset();
              }}
            >
              <option value="">Any kind</option>
              {OPERATION_KINDS.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </Select>
          )}
        </Field>
        <Field label="Target" hint="A VM, host or image, by name or id; Enter applies">
          {(props) => (
            <Input
              {...props}
              type="search"
              value={targetText}
              onChange={(e) => setTargetText(e.target.value)}
              onBlur={applyTarget}
              onKeyDown={(e) => {
                // The form has two text fields, so Enter does not submit it on its own.
                if (e.key === 'Enter') {
                  e.preventDefault();
                  applyTarget();
                }
              }}
            />
          )}
        </Field>
        <SearchField
          label="Search"
          placeholder="Kind, target, status… (this page)"
          value={search}
          onChange={setSearch}
        />
      </form>
      {cancel.error === null ? null : (
        <div className="mb-3">
          <ErrorBox
            error={cancel.error}
            title={`Cancel of ${cancel.variables?.kind ?? 'the operation'} refused`}
          />
        </div>
      )}
      <DataTable
        label="Operations"
        rows={list.items}
        columns={columns}
        getRowId={(op) => op.id}
        search={search}
        loading={list.query.isLoading}
        error={list.query.error}
        empty={
          filtered ? (
            <EmptyState
              title="No operation matches these filters"
              action={
                <Button
                  onClick={() => {
                    setStatus('');
                    setKind('');
                    setTarget('');
                    setTargetText('');
                    list.reset();
                  }}
                >
                  Clear the filters
                </Button>
              }
            />
          ) : (
            <EmptyState title="No operations yet">
              Creating, starting, migrating a VM or importing an image starts one; it shows here
              with its progress.
            </EmptyState>
          )
        }
      />
      <StaleListError
        error={list.query.error}
        shown={list.items !== undefined}
        title="Cannot refresh the operations"
      />
      <Pager list={list} noun="operations" />
    </>
  );
}
