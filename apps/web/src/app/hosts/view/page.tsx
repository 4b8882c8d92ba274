'use client';

import type { Host } from '@novacron/api';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { Dialog } from '../../../components/dialog';
import { HostMetricsCharts } from '../../../components/metrics';
import { OperationProgress } from '../../../components/operation';
import {
  Badge,
  Button,
  ButtonLink,
  Card,
  EmptyState,
  ErrorBox,
  PageHeader,
  Properties,
  Spinner,
  StateBadge,
} from '../../../components/ui';
import { formatAgo, formatMiB } from '../../../lib/format';
import { useHost, useVmSummary, vmHref } from '../../../lib/queries';
import { useIdParam, withSearchParams } from '../../../lib/search-params';
import { useApi } from '../../../lib/session';

function HostActions({ host }: { host: Host }) {
  const api = useApi();
  const queries = useQueryClient();
  const [confirmDrain, setConfirmDrain] = useState(false);
  const [drainId, setDrainId] = useState<string | undefined>(undefined);
  const setHost = (updated: Host) => queries.setQueryData(['host', updated.id], updated);
  const cordon = useMutation({ mutationFn: () => api.hosts.cordon(host.id), onSuccess: setHost });
  const uncordon = useMutation({
    mutationFn: () => api.hosts.uncordon(host.id),
    onSuccess: setHost,
  });
  const enable = useMutation({
    mutationFn: (enabled: boolean) => api.hosts.patch(host.id, { enabled }),
    onSuccess: setHost,
  });
  const drain = useMutation({
    mutationFn: () => api.hosts.drain(host.id),
    onSuccess: (operation) => {
      queries.setQueryData(['operation', operation.id], operation);
      setDrainId(operation.id);
      setConfirmDrain(false);
    },
  });
  const error = cordon.error ?? uncordon.error ?? enable.error;
  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap gap-2">
        {host.cordoned || host.maintenance ? (
          <Button busy={uncordon.isPending} onClick={() => uncordon.mutate()}>
            {host.maintenance ? 'End maintenance' : 'Uncordon'}
          </Button>
        ) : (
          <Button busy={cordon.isPending} onClick={() => cordon.mutate()}>
            Cordon
          </Button>
        )}
        <Button
          variant="danger"
          onClick={() => setConfirmDrain(true)}
          disabled={drainId !== undefined}
        >
          Drain to maintenance
        </Button>
        <Button busy={enable.isPending} onClick={() => enable.mutate(host.state === 'disabled')}>
          {host.state === 'disabled' ? 'Enable' : 'Disable'}
        </Button>
      </div>
      <ErrorBox error={error} />
      {drainId === undefined ? null : (
        <OperationProgress id={drainId} label={`Drain of ${host.name}`} />
      )}
      <Dialog
        open={confirmDrain}
        onOpenChange={setConfirmDrain}
        title={`Drain ${host.name}?`}
        description="Every VM moves to another host (live when it runs); the host then stays in maintenance and takes no new VMs until you end it."
      >
        <ErrorBox error={drain.error} />
        <div className="mt-4 flex justify-end gap-2">
          <Button onClick={() => setConfirmDrain(false)}>Cancel</Button>
          <Button variant="danger" busy={drain.isPending} onClick={() => drain.mutate()}>
            Drain
          </Button>
        </div>
      </Dialog>
    </div>
  );
}

function HostVms({ host }: { host: Host }) {
  const vms = useVmSummary({ host: host.name });
  if (vms.error !== null) return <ErrorBox error={vms.error} />;
  if (vms.data === undefined) return <Spinner label="Loading" />;
  if (vms.data.items.length === 0) {
    return (
      <EmptyState
        title="No VMs on this host"
        action={<ButtonLink href="/vms/new">Create a VM</ButtonLink>}
      >
        New VMs land here when the scheduler picks this host, or when you choose it.
      </EmptyState>
    );
  }
  return (
    <ul className="divide-y divide-line text-sm" aria-label={`VMs on ${host.name}`}>
      {vms.data.items.map((vm) => (
        <li key={vm.id} className="flex items-center justify-between gap-2 py-1.5">
          <Link href={vmHref(vm)} className="text-accent hover:underline">
            {vm.name}
          </Link>
          <span className="flex items-center gap-3 text-xs text-muted">
            {vm.cpus} vCPU · {formatMiB(vm.memoryMiB)} <StateBadge state={vm.state} />
          </span>
        </li>
      ))}
    </ul>
  );
}

function HostPage() {
  const id = useIdParam();
  const router = useRouter();
  const { data: host, error, isLoading } = useHost(id);
  // Events update a host under its id: a link by name is rewritten to the id.
  useEffect(() => {
    if (host !== undefined && id !== host.id) router.replace(`/hosts/view?id=${host.id}`);
  }, [host, id, router]);

  if (id === undefined) {
    return (
      <EmptyState
        title="No host chosen"
        action={<ButtonLink href="/hosts">All hosts</ButtonLink>}
      />
    );
  }
  if (error !== null) return <ErrorBox error={error} title="Cannot show this host" />;
  if (host === undefined || isLoading) return <Spinner label="Loading" />;
  return (
    <>
      <PageHeader
        title={host.name}
        subtitle={
          <span className="inline-flex flex-wrap items-center gap-1.5">
            <StateBadge state={host.state} />
            {host.cordoned ? <Badge tone="warn">cordoned</Badge> : null}
            {host.maintenance ? <Badge tone="warn">maintenance</Badge> : null}
          </span>
        }
      />
      <div className="grid gap-4 lg:grid-cols-3">
        <Card title="Host">
          <Properties
            items={[
              ['vCPUs', host.cpus],
              ['Memory', formatMiB(host.memoryMiB)],
              ['Accelerator', `${host.accelerator ?? 'none'} (${host.acceleratorReason})`],
              ['QEMU', host.qemuVersion],
              [
                'Agent',
                <code key="agent" className="text-xs">
                  {host.agentUrl}
                </code>,
              ],
              ['Heartbeat', formatAgo(host.lastHeartbeatAt)],
              [
                'Labels',
                Object.entries(host.labels)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ') || '–',
              ],
            ]}
          />
        </Card>
        <Card title="Placement" className="lg:col-span-2">
          <p className="mb-3 text-sm text-muted">
            Cordon keeps this host&apos;s VMs and places no new ones; drain moves them all away and
            leaves it in maintenance.
          </p>
          <HostActions host={host} />
        </Card>
        <Card title="Live metrics" className="lg:col-span-3">
          <HostMetricsCharts hostId={host.id} />
        </Card>
        <Card title="Virtual machines" className="lg:col-span-3">
          <HostVms host={host} />
        </Card>
      </div>
    </>
  );
}

export default withSearchParams(HostPage);
