'use client';

import type { Host } from '@novacron/api';
import type { ColumnDef } from '@tanstack/react-table';
import Link from 'next/link';
import { useState } from 'react';
import { DataTable, Pager, usePagedList } from '../../components/data-table';
import { Badge, EmptyState, Input, PageHeader, StateBadge } from '../../components/ui';
import { formatAgo, formatMiB } from '../../lib/format';
import { hostHref } from '../../lib/queries';
import { useApi } from '../../lib/session';

const columns: ColumnDef<Host, unknown>[] = [
  {
    id: 'name',
    header: 'Name',
    accessorKey: 'name',
    cell: ({ row }) => (
      <Link href={hostHref(row.original)} className="font-medium text-accent hover:underline">
        {row.original.name}
      </Link>
    ),
  },
  {
    id: 'state',
    header: 'State',
    accessorKey: 'state',
    cell: ({ row }) => (
      <span className="flex flex-wrap gap-1">
        <StateBadge state={row.original.state} />
        {row.original.cordoned ? <Badge tone="warn">cordoned</Badge> : null}
        {row.original.maintenance ? <Badge tone="warn">maintenance</Badge> : null}
      </span>
    ),
  },
  { id: 'cpus', header: 'vCPUs', accessorKey: 'cpus' },
  {
    id: 'memory',
    header: 'Memory',
    accessorKey: 'memoryMiB',
    cell: ({ row }) => formatMiB(row.original.memoryMiB),
  },
  {
    id: 'accelerator',
    header: 'Accelerator',
    accessorFn: (host) => host.accelerator ?? 'none',
    cell: ({ row }) => (
      <span title={row.original.acceleratorReason}>{row.original.accelerator ?? 'none'}</span>
    ),
  },
  { id: 'qemu', header: 'QEMU', accessorKey: 'qemuVersion' },
  {
    id: 'heartbeat',
    header: 'Last heartbeat',
    accessorFn: (host) => host.lastHeartbeatAt ?? '',
    cell: ({ row }) => formatAgo(row.original.lastHeartbeatAt),
  },
];

export default function HostsPage() {
  const api = useApi();
  const [search, setSearch] = useState('');
  const list = usePagedList('hosts', {}, (query) => api.hosts.list(query));
  return (
    <>
      <PageHeader title="Hosts" subtitle="The machines that run VMs, as their agents report them" />
      <div className="mb-3 max-w-xs">
        <Input
          type="search"
          aria-label="Search hosts on this page"
          placeholder="Search this page"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
      </div>
      <DataTable
        label="Hosts"
        rows={list.items}
        columns={columns}
        getRowId={(host) => host.id}
        search={search}
        loading={list.query.isLoading}
        error={list.query.error}
        empty={
          <EmptyState title="No hosts yet">
            Add one with <code>novacron host add NAME</code>, then run the join command it prints on
            the machine.
          </EmptyState>
        }
      />
      <Pager list={list} noun="hosts" />
    </>
  );
}
