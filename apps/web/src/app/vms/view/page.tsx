'use client';

import type { Vm, VmActionName } from '@novacron/api';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { Tabs } from 'radix-ui';
import { useEffect, useState } from 'react';
import { Dialog } from '../../../components/dialog';
import { VmMetricsCharts } from '../../../components/metrics';
import { MigrateDialog } from '../../../components/migrate-dialog';
import { OperationProgress } from '../../../components/operation';
import { SerialConsole } from '../../../components/serial-console';
import {
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
import { VmSnapshots } from '../../../components/vm-snapshots';
import { VncConsole } from '../../../components/vnc-console';
import { formatAgo, formatMiB } from '../../../lib/format';
import { hostHref, useOperation, useVm } from '../../../lib/queries';
import { useIdParam, withSearchParams } from '../../../lib/search-params';
import { useApi } from '../../../lib/session';

/** Which actions make sense in which state (the server decides; this only hides the pointless). */
const ACTIONS: { action: VmActionName; label: string; when: readonly string[] }[] = [
  { action: 'start', label: 'Start', when: ['stopped', 'error'] },
  { action: 'stop', label: 'Stop', when: ['running', 'paused', 'starting', 'unknown'] },
  { action: 'reboot', label: 'Reboot', when: ['running'] },
  { action: 'pause', label: 'Pause', when: ['running'] },
  { action: 'resume', label: 'Resume', when: ['paused'] },
];

function VmActions({ vm, onDeleting }: { vm: Vm; onDeleting: (operationId: string) => void }) {
  const api = useApi();
  const queries = useQueryClient();
  const [operation, setOperation] = useState<{ id: string; label: string } | undefined>(undefined);
  const [migrating, setMigrating] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const action = useMutation({
    mutationFn: (name: VmActionName) => api.vms.action(vm.id, { action: name }),
    onSuccess: (op, name) => {
      queries.setQueryData(['operation', op.id], op);
      setOperation({ id: op.id, label: `${name[0]?.toUpperCase()}${name.slice(1)}` });
    },
  });
  const remove = useMutation({
    mutationFn: () => api.vms.delete(vm.id),
    onSuccess: (op) => {
      queries.setQueryData(['operation', op.id], op);
      setConfirmDelete(false);
      setOperation({ id: op.id, label: 'Delete' });
      onDeleting(op.id);
    },
  });
  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap gap-2">
        {ACTIONS.filter((a) => a.when.includes(vm.state)).map((a) => (
          <Button
            key={a.action}
            busy={action.isPending && action.variables === a.action}
            onClick={() => action.mutate(a.action)}
          >
            {a.label}
          </Button>
        ))}
        <Button
          onClick={() => setMigrating(true)}
          disabled={!['running', 'stopped'].includes(vm.state)}
        >
          Migrate
        </Button>
        <Button variant="danger" onClick={() => setConfirmDelete(true)}>
          Delete
        </Button>
      </div>
      <ErrorBox error={action.error} />
      {operation === undefined ? null : (
        <OperationProgress key={operation.id} id={operation.id} label={operation.label} />
      )}
      <MigrateDialog vm={vm} open={migrating} onOpenChange={setMigrating} />
      <Dialog
        open={confirmDelete}
        onOpenChange={setConfirmDelete}
        title={`Delete ${vm.name}?`}
        description="Its QEMU process stops and its disk is removed. This cannot be undone."
      >
        <ErrorBox error={remove.error} />
        <div className="mt-4 flex justify-end gap-2">
          <Button onClick={() => setConfirmDelete(false)}>Cancel</Button>
          <Button variant="danger" busy={remove.isPending} onClick={() => remove.mutate()}>
            Delete
          </Button>
        </div>
      </Dialog>
    </div>
  );
}

const TAB =
  'rounded-md px-3 py-1.5 text-sm text-muted data-[state=active]:bg-accent/15 data-[state=active]:font-medium data-[state=active]:text-accent';

function VmPage() {
  const id = useIdParam();
  const router = useRouter();
  const { data: vm, error, isLoading } = useVm(id);
  const [tab, setTab] = useState('metrics');
  // A delete is followed here, not in the actions: the VM's vm.deleted event can come (and this
  // page lose the VM) before its operation's last event. Once it succeeded: back to the list.
  const [deleting, setDeleting] = useState<string | undefined>(undefined);
  const deleted = useOperation(deleting).data?.status === 'succeeded';
  useEffect(() => {
    if (deleted) router.push('/vms');
  }, [deleted, router]);
  // Events update a VM under its id: a link by name is rewritten to the id.
  useEffect(() => {
    if (vm !== undefined && id !== vm.id) router.replace(`/vms/view?id=${vm.id}`);
  }, [vm, id, router]);

  if (id === undefined) {
    return (
      <EmptyState title="No VM chosen" action={<ButtonLink href="/vms">All VMs</ButtonLink>} />
    );
  }
  if (error !== null) {
    if (deleting !== undefined) return <Spinner label="Deleting" />;
    return (
      <div className="flex flex-col gap-3">
        <ErrorBox error={error} title="Cannot show this VM" />
        <ButtonLink href="/vms">All VMs</ButtonLink>
      </div>
    );
  }
  if (vm === undefined || isLoading) return <Spinner label="Loading" />;
  const running = vm.state === 'running' || vm.state === 'paused';
  return (
    <>
      <PageHeader
        title={vm.name}
        subtitle={
          <span className="inline-flex flex-wrap items-center gap-2" data-testid="vm-state">
            <StateBadge state={vm.state} />
            {vm.host === null ? null : (
              <span>
                on{' '}
                <Link
                  href={hostHref(vm.host)}
                  className="text-accent hover:underline"
                  data-testid="vm-host"
                >
                  {vm.host}
                </Link>
              </span>
            )}
            {vm.stateReason === null ? null : <span className="text-bad">{vm.stateReason}</span>}
          </span>
        }
      />
      <div className="grid items-start gap-4 lg:grid-cols-3">
        <Card title="Actions" className="lg:col-span-2">
          <VmActions vm={vm} onDeleting={setDeleting} />
        </Card>
        <Card title="Details">
          <Properties
            items={[
              ['Project', vm.project],
              ['Image', vm.image],
              ['Size', `${vm.cpus} vCPU · ${formatMiB(vm.memoryMiB)} · ${vm.diskGiB} GiB disk`],
              ['Pool', vm.pool],
              ['Wants', vm.desiredState],
              ['Restarts', `${vm.restarts} (policy ${vm.restartPolicy})`],
              ['Created', formatAgo(vm.createdAt)],
              [
                'Id',
                <code key="id" className="text-xs">
                  {vm.id}
                </code>,
              ],
            ]}
          />
        </Card>
      </div>
      <Tabs.Root value={tab} onValueChange={setTab} className="mt-4">
        <Tabs.List aria-label="VM views" className="mb-3 flex flex-wrap gap-1">
          <Tabs.Trigger value="metrics" className={TAB}>
            Metrics
          </Tabs.Trigger>
          <Tabs.Trigger value="serial" className={TAB}>
            Serial console
          </Tabs.Trigger>
          <Tabs.Trigger value="vnc" className={TAB}>
            VNC console
          </Tabs.Trigger>
          <Tabs.Trigger value="snapshots" className={TAB}>
            Snapshots
          </Tabs.Trigger>
        </Tabs.List>
        <Tabs.Content value="metrics">
          <Card>
            <VmMetricsCharts vmId={vm.id} />
          </Card>
        </Tabs.Content>
        <Tabs.Content value="serial">
          <Card>
            {running ? (
              // A new host after a migration means a new console stream.
              <SerialConsole key={vm.host ?? ''} vmId={vm.id} />
            ) : (
              <EmptyState title="The VM is not running">Start it to attach its console.</EmptyState>
            )}
          </Card>
        </Tabs.Content>
        <Tabs.Content value="vnc">
          <Card>
            {running ? (
              <VncConsole key={vm.host ?? ''} vmId={vm.id} />
            ) : (
              <EmptyState title="The VM is not running">Start it to see its display.</EmptyState>
            )}
          </Card>
        </Tabs.Content>
        <Tabs.Content value="snapshots">
          <Card>
            <VmSnapshots vm={vm} />
          </Card>
        </Tabs.Content>
      </Tabs.Root>
    </>
  );
}

export default withSearchParams(VmPage);
