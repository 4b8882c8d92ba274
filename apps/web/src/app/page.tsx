'use client';

import {
  HOST_STATES,
  VM_STATES,
  type Event,
  type Host,
  type HostMetricsSample,
  type Operation,
} from '@novacron/api';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useMemo } from 'react';
import {
  Badge,
  ButtonLink,
  Card,
  EmptyState,
  ErrorBox,
  PageHeader,
  ProgressBar,
  Spinner,
  StateBadge,
  Stat,
} from '../components/ui';
import {
  countBy,
  formatAgo,
  formatBytes,
  formatMiB,
  formatPercent,
  formatTime,
} from '../lib/format';
import { mergeSeries } from '../lib/live-cache';
import { useLiveSamples, useRecentEvents } from '../lib/live';
import {
  hostHref,
  SUMMARY_LIMIT,
  useActiveOperations,
  useAllHosts,
  useVmSummary,
  vmHref,
} from '../lib/queries';
import { useApi } from '../lib/session';

/** The host's latest measurement: the fetched window, then live samples. */
function useLatestHostSample(hostId: string): HostMetricsSample | undefined {
  const api = useApi();
  const fetched = useQuery({
    queryKey: ['host-metrics', hostId],
    queryFn: () => api.hosts.metrics(hostId),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const live = useLiveSamples<HostMetricsSample>('host', hostId);
  return useMemo(() => mergeSeries(fetched.data?.samples ?? [], live).at(-1), [fetched.data, live]);
}

function HostUsageRow({ host, vms }: { host: Host; vms: number }) {
  const sample = useLatestHostSample(host.id);
  const memory =
    sample?.memoryUsedBytes !== undefined && sample.memoryTotalBytes !== undefined
      ? (100 * sample.memoryUsedBytes) / sample.memoryTotalBytes
      : undefined;
  return (
    <tr className="border-b border-line last:border-0">
      <td className="py-2 pr-3">
        <Link href={hostHref(host)} className="font-medium text-accent hover:underline">
          {host.name}
        </Link>
      </td>
      <td className="py-2 pr-3">
        <StateBadge state={host.state} />
        {host.cordoned ? (
          <span className="ml-1">
            <Badge tone="warn">cordoned</Badge>
          </span>
        ) : null}
      </td>
      <td className="py-2 pr-3 tabular-nums">{vms}</td>
      <td className="w-32 py-2 pr-3">
        <div className="text-xs tabular-nums">{formatPercent(sample?.cpuPercent)}</div>
        <ProgressBar value={sample?.cpuPercent ?? 0} label={`CPU of ${host.name}`} />
      </td>
      <td className="w-40 py-2">
        <div className="text-xs tabular-nums">
          {formatBytes(sample?.memoryUsedBytes)} / {formatBytes(sample?.memoryTotalBytes)}
        </div>
        <ProgressBar value={memory ?? 0} label={`Memory of ${host.name}`} />
      </td>
    </tr>
  );
}

function OperationRow({ operation }: { operation: Operation }) {
  return (
    <li className="flex flex-col gap-1 py-2">
      <div className="flex flex-wrap items-center justify-between gap-2 text-sm">
        <span>
          <span className="font-medium">{operation.kind}</span>{' '}
          <span className="text-muted">{operation.target.name}</span>
        </span>
        <span className="text-xs text-muted">
          {operation.phase} · {Math.round(operation.progress)} %
        </span>
      </div>
      <ProgressBar
        value={operation.progress}
        label={`${operation.kind} of ${operation.target.name}`}
      />
    </li>
  );
}

/** One line per event, from what its data carries (a VM, a host, an operation, an audit entry). */
function describe(event: Event): string {
  const data = event.data;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const target = (data.target ?? {}) as { name?: unknown };
  if (event.type === 'audit.recorded') {
    const what = [text(data.actor) ?? 'someone', text(data.action), text(target.name)];
    return `${what.filter((part) => part !== undefined).join(' ')} · ${text(data.result) ?? ''}`;
  }
  const name = text(data.name) ?? text(target.name) ?? event.subject.id;
  const detail =
    text(data.state) ??
    (text(data.status) === undefined ? '' : `${text(data.kind) ?? ''} ${text(data.status) ?? ''}`);
  return detail === '' ? name : `${name} · ${detail}`;
}

export default function OverviewPage() {
  const hosts = useAllHosts();
  const vms = useVmSummary();
  const operations = useActiveOperations();
  const events = useRecentEvents();

  const hostList = hosts.data?.items ?? [];
  const vmList = vms.data?.items ?? [];
  const vmsPerHost = countBy(vmList, (vm) => vm.host ?? '');
  const capacity = {
    cpus: hostList.reduce((sum, host) => sum + host.cpus, 0),
    memoryMiB: hostList.reduce((sum, host) => sum + host.memoryMiB, 0),
  };
  const placed = vmList.filter((vm) => vm.desiredState === 'running' || vm.state === 'running');
  const allocated = {
    cpus: placed.reduce((sum, vm) => sum + vm.cpus, 0),
    memoryMiB: placed.reduce((sum, vm) => sum + vm.memoryMiB, 0),
  };
  const partial = vms.data?.nextCursor !== null && vms.data !== undefined;

  return (
    <>
      <PageHeader
        title="Overview"
        subtitle="Capacity, usage and what is happening now"
        actions={
          <ButtonLink href="/vms/new" variant="primary">
            Create VM
          </ButtonLink>
        }
      />
      <ErrorBox error={hosts.error ?? vms.error} />
      <div className="mb-4 grid grid-cols-2 gap-3 lg:grid-cols-4">
        <Stat
          label="Hosts"
          value={hosts.data === undefined ? '…' : hostList.length}
          detail={`${hostList.filter((h) => h.state === 'ready').length} ready`}
        />
        <Stat
          label="Virtual machines"
          value={vms.data === undefined ? '…' : `${vmList.length}${partial ? '+' : ''}`}
          detail={`${vmList.filter((vm) => vm.state === 'running').length} running`}
        />
        <Stat
          label="vCPUs allocated"
          value={hosts.data === undefined ? '…' : `${allocated.cpus} / ${capacity.cpus}`}
          detail="VMs that run or should run, over host vCPUs"
        />
        <Stat
          label="Memory allocated"
          value={hosts.data === undefined ? '…' : `${formatMiB(allocated.memoryMiB)}`}
          detail={`of ${formatMiB(capacity.memoryMiB)} on the hosts`}
        />
      </div>
      {partial ? (
        <p className="mb-3 text-xs text-muted">
          Counts cover the first {SUMMARY_LIMIT} VMs; the VMs page lists them all.
        </p>
      ) : null}
      <div className="grid gap-4 lg:grid-cols-3">
        <Card title="Hosts and measured usage" className="lg:col-span-2">
          {hosts.data === undefined ? (
            <Spinner label="Loading" />
          ) : hostList.length === 0 ? (
            <EmptyState title="No hosts yet">
              Add one with <code>novacron host add NAME</code> and run the join command it prints.
            </EmptyState>
          ) : (
            <div className="overflow-x-auto">
              <table className="w-full min-w-[32rem] text-left text-sm" aria-label="Hosts">
                <thead className="text-xs text-muted uppercase">
                  <tr>
                    <th className="pb-1 font-medium">Host</th>
                    <th className="pb-1 font-medium">State</th>
                    <th className="pb-1 font-medium">VMs</th>
                    <th className="pb-1 font-medium">CPU</th>
                    <th className="pb-1 font-medium">Memory</th>
                  </tr>
                </thead>
                <tbody>
                  {hostList.map((host) => (
                    <HostUsageRow
                      key={host.id}
                      host={host}
                      vms={vmsPerHost.find(([name]) => name === host.name)?.[1] ?? 0}
                    />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
        <div className="flex flex-col gap-4">
          <Card title="Hosts by state">
            <ul className="flex flex-wrap gap-2" aria-label="Hosts by state">
              {countBy(hostList, (host) => host.state, HOST_STATES).map(([state, count]) => (
                <li key={state} className="flex items-center gap-1.5 text-sm">
                  <StateBadge state={state} /> <span className="tabular-nums">{count}</span>
                </li>
              ))}
              <li className="flex items-center gap-1.5 text-sm">
                <Badge tone="warn">cordoned</Badge>{' '}
                <span className="tabular-nums">{hostList.filter((h) => h.cordoned).length}</span>
              </li>
            </ul>
          </Card>
          <Card title="VMs by state">
            <ul className="flex flex-col gap-1.5" aria-label="VMs by state">
              {countBy(vmList, (vm) => vm.state, VM_STATES)
                .filter(
                  ([state, count]) => count > 0 || ['running', 'stopped', 'error'].includes(state),
                )
                .map(([state, count]) => (
                  <li key={state} className="flex items-center gap-2 text-sm">
                    <span className="w-24">
                      <StateBadge state={state} />
                    </span>
                    <span className="w-8 text-right tabular-nums" data-vm-state-count={state}>
                      {count}
                    </span>
                    <span className="flex-1">
                      <ProgressBar
                        value={vmList.length === 0 ? 0 : (100 * count) / vmList.length}
                        label={`VMs ${state}`}
                        tone="muted"
                      />
                    </span>
                  </li>
                ))}
            </ul>
          </Card>
        </div>
        <Card title="Running operations" className="lg:col-span-1">
          <ErrorBox error={operations.error} />
          {operations.data === undefined ? (
            <Spinner label="Loading" />
          ) : operations.data.items.length === 0 ? (
            <p className="text-sm text-muted">
              Nothing running. Migrations, creates and drains show here with their progress.
            </p>
          ) : (
            <ul className="divide-y divide-line">
              {operations.data.items.map((operation) => (
                <OperationRow key={operation.id} operation={operation} />
              ))}
            </ul>
          )}
        </Card>
        <Card title="Recent events" className="lg:col-span-2">
          {events.length === 0 ? (
            <p className="text-sm text-muted">
              No changes since you signed in; they appear here as they happen.
            </p>
          ) : (
            <ol
              className="flex max-h-80 flex-col gap-1 overflow-y-auto text-sm"
              aria-label="Recent events"
            >
              {events.map((event) => (
                <li key={event.seq} className="flex flex-wrap items-baseline gap-x-3">
                  <span
                    className="w-20 shrink-0 text-xs text-muted tabular-nums"
                    title={formatAgo(event.time)}
                  >
                    {formatTime(event.time)}
                  </span>
                  <span className="w-36 shrink-0 font-mono text-xs">{event.type}</span>
                  {event.subject.kind === 'vm' && event.type !== 'vm.deleted' ? (
                    <Link
                      href={vmHref({ id: event.subject.id })}
                      className="text-accent hover:underline"
                    >
                      {describe(event)}
                    </Link>
                  ) : (
                    <span>{describe(event)}</span>
                  )}
                </li>
              ))}
            </ol>
          )}
        </Card>
      </div>
    </>
  );
}
