'use client';

import { VM_STATES, type Vm, type VmState } from '@novacron/api';
import type { ColumnDef, RowSelectionState } from '@tanstack/react-table';
import Link from 'next/link';
import { useState } from 'react';
import { createdAtColumn, DataTable, Pager, usePagedList } from '../../components/data-table';
import { Dialog } from '../../components/dialog';
import {
  Button,
  ButtonLink,
  EmptyState,
  ErrorBox,
  Field,
  Input,
  PageHeader,
  Select,
  StateBadge,
} from '../../components/ui';
import { formatMiB } from '../../lib/format';
import { hostHref, useAllHosts, vmHref } from '../../lib/queries';
import { useApi } from '../../lib/session';

const columns: ColumnDef<Vm, unknown>[] = [
  {
    id: 'name',
    header: 'Name',
    accessorKey: 'name',
    cell: ({ row }) => (
      <Link href={vmHref(row.original)} className="font-medium text-accent hover:underline">
        {row.original.name}
      </Link>
    ),
  },
  {
    id: 'state',
    header: 'State',
    accessorKey: 'state',
    cell: ({ row }) => <StateBadge state={row.original.state} />,
  },
  {
    id: 'host',
    header: 'Host',
    accessorFn: (vm) => vm.host ?? '',
    cell: ({ row }) =>
      row.original.host === null ? (
        <span className="text-muted">–</span>
      ) : (
        <Link href={hostHref(row.original.host)} className="hover:underline">
          {row.original.host}
        </Link>
      ),
  },
  { id: 'project', header: 'Project', accessorKey: 'project' },
  { id: 'image', header: 'Image', accessorKey: 'image' },
  { id: 'cpus', header: 'vCPUs', accessorKey: 'cpus' },
  {
    id: 'memory',
    header: 'Memory',
    accessorKey: 'memoryMiB',
    cell: ({ row }) => formatMiB(row.original.memoryMiB),
  },
  createdAtColumn<Vm>('created', 'Created'),
];

type BulkAction = 'start' | 'stop' | 'reboot' | 'delete';

interface BulkOutcome {
  action: BulkAction;
  done: number;
  failures: { vm: string; error: unknown }[];
}

export default function VmsPage() {
  const api = useApi();
  const hosts = useAllHosts();
  const [state, setState] = useState<VmState | ''>('');
  const [host, setHost] = useState('');
  const [search, setSearch] = useState('');
  const [selection, setSelection] = useState<RowSelectionState>({});
  const [busy, setBusy] = useState<BulkAction | undefined>(undefined);
  const [outcome, setOutcome] = useState<BulkOutcome | undefined>(undefined);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const filters = { ...(state === '' ? {} : { state }), ...(host === '' ? {} : { host }) };
  const list = usePagedList('vms', filters, (query) => api.vms.list({ ...query, ...filters }));
  const selected = (list.items ?? []).filter((vm) => selection[vm.id] === true);

  const runBulk = async (action: BulkAction) => {
    setBusy(action);
    setOutcome(undefined);
    const results = await Promise.allSettled(
      selected.map((vm) =>
        action === 'delete' ? api.vms.delete(vm.id) : api.vms.action(vm.id, { action }),
      ),
    );
    const failures = results.flatMap((result, index) =>
      result.status === 'rejected'
        ? [{ vm: selected[index]?.name ?? '', error: result.reason as unknown }]
        : [],
    );
    setOutcome({ action, done: results.length - failures.length, failures });
    setSelection({});
    setBusy(undefined);
    setConfirmDelete(false);
  };

  return (
    <>
      <PageHeader
        title="Virtual machines"
        actions={
          <ButtonLink href="/vms/new" variant="primary">
            Create VM
          </ButtonLink>
        }
      />
      <div className="mb-3 grid gap-3 sm:grid-cols-3">
        <Field label="Search">
          {(props) => (
            <Input
              {...props}
              type="search"
              placeholder="Name, host, image… (this page)"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
          )}
        </Field>
        <Field label="State">
          {(props) => (
            <Select
              {...props}
              value={state}
              onChange={(e) => {
                setState(e.target.value as VmState | '');
                list.reset();
              }}
            >
              <option value="">Any state</option>
              {VM_STATES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </Select>
          )}
        </Field>
        <Field label="Host">
          {(props) => (
            <Select
              {...props}
              value={host}
              onChange={(e) => {
                setHost(e.target.value);
                list.reset();
              }}
            >
              <option value="">Any host</option>
              {(hosts.data?.items ?? []).map((h) => (
                <option key={h.id} value={h.name}>
                  {h.name}
                </option>
              ))}
            </Select>
          )}
        </Field>
      </div>
      <div
        className="mb-3 flex flex-wrap items-center gap-2 text-sm"
        role="toolbar"
        aria-label="Actions on the selected VMs"
      >
        <span className="text-muted">{selected.length} selected</span>
        {(['start', 'stop', 'reboot'] as const).map((action) => (
          <Button
            key={action}
            disabled={selected.length === 0}
            busy={busy === action}
            onClick={() => void runBulk(action)}
          >
            {action[0]?.toUpperCase()}
            {action.slice(1)}
          </Button>
        ))}
        <Button
          variant="danger"
          disabled={selected.length === 0}
          onClick={() => setConfirmDelete(true)}
        >
          Delete
        </Button>
      </div>
      {outcome === undefined ? null : (
        <div className="mb-3 flex flex-col gap-2" role="status">
          <p className="text-sm">
            {outcome.action}: {outcome.done} started
            {outcome.failures.length > 0 ? `, ${outcome.failures.length} refused` : ''}.
          </p>
          {outcome.failures.map((failure) => (
            <ErrorBox
              key={failure.vm}
              error={failure.error}
              title={`${outcome.action} of ${failure.vm}`}
            />
          ))}
        </div>
      )}
      <DataTable
        label="Virtual machines"
        rows={list.items}
        columns={columns}
        getRowId={(vm) => vm.id}
        search={search}
        selection={selection}
        onSelectionChange={setSelection}
        loading={list.query.isLoading}
        error={list.query.error}
        empty={
          state !== '' || host !== '' ? (
            <EmptyState title="No VM matches these filters" />
          ) : (
            <EmptyState
              title="No virtual machines yet"
              action={
                <ButtonLink href="/vms/new" variant="primary">
                  Create your first VM
                </ButtonLink>
              }
            >
              The built-in <code>tiny</code> image boots in seconds.
            </EmptyState>
          )
        }
      />
      <Pager list={list} noun="VMs" />
      <Dialog
        open={confirmDelete}
        onOpenChange={setConfirmDelete}
        title={`Delete ${selected.length} VM${selected.length === 1 ? '' : 's'}?`}
        description={`${selected.map((vm) => vm.name).join(', ')}: their QEMU processes stop and their disks are removed.`}
      >
        <div className="mt-4 flex justify-end gap-2">
          <Button onClick={() => setConfirmDelete(false)}>Cancel</Button>
          <Button variant="danger" busy={busy === 'delete'} onClick={() => void runBulk('delete')}>
            Delete
          </Button>
        </div>
      </Dialog>
    </>
  );
}
