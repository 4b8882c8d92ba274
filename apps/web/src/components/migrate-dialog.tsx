'use client';

import { MIGRATION_STRATEGIES, type MigrationStrategy, type Vm } from '@novacron/api';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { formatBytes, formatDuration } from '../lib/format';
import { useMigrationProgress } from '../lib/live';
import { useAllHosts, useOperation } from '../lib/queries';
import { useApi } from '../lib/session';
import { Dialog } from './dialog';
import { Badge, Button, ErrorBox, Field, ProgressBar, Select, Spinner, StateBadge } from './ui';

/** The running migration: the operation's progress, and the bytes of the live progress events. */
export function MigrationProgressView({ operationId }: { operationId: string }) {
  const { data: operation, error } = useOperation(operationId);
  const live = useMigrationProgress(operationId);
  if (error !== null) return <ErrorBox error={error} />;
  if (operation === undefined) return <Spinner label="Starting" />;
  const finished = operation.status === 'succeeded';
  const percent = finished ? 100 : operation.progress;
  return (
    <div
      className="flex flex-col gap-2"
      data-testid="migration-progress"
      data-status={operation.status}
    >
      <div className="flex flex-wrap items-center justify-between gap-2 text-sm">
        <span>
          Migration <StateBadge state={operation.status} />
        </span>
        <span className="text-xs text-muted tabular-nums">
          {operation.phase} · {Math.round(percent)} %
        </span>
      </div>
      <ProgressBar
        value={percent}
        label="Migration progress"
        tone={operation.status === 'failed' ? 'bad' : finished ? 'ok' : 'info'}
      />
      {live === undefined || finished ? null : (
        <p className="text-xs text-muted tabular-nums">
          {live.strategy}, pass {live.iteration}: {formatBytes(live.transferredBytes)} sent,{' '}
          {formatBytes(live.remainingBytes)} left, guest dirtying {formatBytes(live.dirtyRateBytes)}
          /s
        </p>
      )}
      {operation.error === null ? null : (
        <ErrorBox
          error={new Error(operation.error.message)}
          title={`Migration failed (${operation.error.code})`}
        />
      )}
      {finished && operation.result !== null ? (
        <p className="text-xs text-muted">
          Moved to {String(operation.result.to)} in{' '}
          {formatDuration(Number(operation.result.totalTimeMs))}, guest paused{' '}
          {formatDuration(Number(operation.result.downtimeMs))}.
        </p>
      ) : null}
    </div>
  );
}

/**
 * Migrates a VM: choose the target, see what the planner measured and predicts for each
 * strategy, start it, and follow its progress.
 */
export function MigrateDialog({
  vm,
  open,
  onOpenChange,
}: {
  vm: Vm;
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const api = useApi();
  const queries = useQueryClient();
  const hosts = useAllHosts();
  const [target, setTarget] = useState('');
  const [strategy, setStrategy] = useState<MigrationStrategy>('auto');
  const [operationId, setOperationId] = useState<string | undefined>(undefined);
  const targets = (hosts.data?.items ?? []).filter(
    (host) => host.name !== vm.host && host.state === 'ready',
  );
  const planning = vm.state === 'running' && open && operationId === undefined;
  const plan = useQuery({
    queryKey: ['migration-plan', vm.id, target],
    queryFn: () => api.vms.migrationPlan(vm.id, target === '' ? {} : { to: target }),
    enabled: planning && targets.length > 0,
    staleTime: 30_000,
    retry: false,
  });
  const migrate = useMutation({
    mutationFn: () =>
      api.vms.migrate(vm.id, {
        ...(target === '' ? {} : { to: target }),
        ...(vm.state === 'running' ? { strategy } : {}),
      }),
    onSuccess: (operation) => {
      queries.setQueryData(['operation', operation.id], operation);
      setOperationId(operation.id);
    },
  });

  const close = (next: boolean) => {
    onOpenChange(next);
    if (!next) {
      setOperationId(undefined);
      migrate.reset();
    }
  };

  return (
    <Dialog
      open={open}
      onOpenChange={close}
      wide
      title={`Migrate ${vm.name}`}
      description={
        vm.state === 'running'
          ? 'A live migration: the guest keeps running while its memory moves, then pauses briefly at the switch-over.'
          : 'A cold move: the stopped VM is placed on the other host.'
      }
    >
      {operationId === undefined ? (
        <div className="flex flex-col gap-4">
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Target host" hint="Automatic lets the scheduler choose.">
              {(props) => (
                <Select
                  {...props}
                  value={target}
                  // The host measures one dirty rate at a time: one plan in flight.
                  disabled={plan.isFetching}
                  onChange={(e) => setTarget(e.target.value)}
                >
                  <option value="">Automatic</option>
                  {targets.map((host) => (
                    <option key={host.id} value={host.name}>
                      {host.name}
                    </option>
                  ))}
                </Select>
              )}
            </Field>
            {vm.state === 'running' ? (
              <Field label="Strategy" hint="Auto takes the planner's choice.">
                {(props) => (
                  <Select
                    {...props}
                    value={strategy}
                    onChange={(e) => setStrategy(e.target.value as MigrationStrategy)}
                  >
                    {MIGRATION_STRATEGIES.map((s) => (
                      <option key={s} value={s}>
                        {s}
                      </option>
                    ))}
                  </Select>
                )}
              </Field>
            ) : null}
          </div>
          {hosts.data !== undefined && targets.length === 0 ? (
            <p className="text-sm text-warn">
              No other host is ready: a migration needs a second host in state ready.
            </p>
          ) : null}
          {vm.state !== 'running' ? null : plan.isFetching ? (
            <Spinner label="Measuring the guest's dirty rate" />
          ) : plan.error !== null ? (
            <ErrorBox error={plan.error} title="The planner could not predict this migration" />
          ) : plan.data === undefined ? null : (
            <div className="flex flex-col gap-2" data-testid="migration-plan">
              <p className="text-sm text-muted">
                {plan.data.from} → {plan.data.to}: {formatBytes(plan.data.memoryBytes)} of memory,
                dirtied at {formatBytes(plan.data.dirtyRateBytes)}/s, link{' '}
                {formatBytes(plan.data.bandwidthBytes)}/s, downtime limit{' '}
                {formatDuration(plan.data.maxDowntimeMs)}
                {plan.data.disk
                  ? `, disk to copy ${formatBytes(plan.data.disk.allocatedBytes)}`
                  : ''}
                .
              </p>
              <div className="overflow-x-auto">
                <table className="w-full text-left text-sm" aria-label="Predictions per strategy">
                  <thead className="text-xs text-muted uppercase">
                    <tr>
                      <th className="py-1 pr-3 font-medium">Strategy</th>
                      <th className="py-1 pr-3 font-medium">Converges</th>
                      <th className="py-1 pr-3 font-medium">Total time</th>
                      <th className="py-1 pr-3 font-medium">Downtime</th>
                      <th className="py-1 font-medium">Why</th>
                    </tr>
                  </thead>
                  <tbody>
                    {plan.data.predictions.map((prediction) => (
                      <tr key={prediction.strategy} className="border-t border-line">
                        <td className="py-1.5 pr-3">
                          {prediction.strategy}{' '}
                          {prediction.strategy === plan.data.chosen ? (
                            <Badge tone="ok">auto&apos;s choice</Badge>
                          ) : null}
                        </td>
                        <td className="py-1.5 pr-3">{prediction.converges ? 'yes' : 'no'}</td>
                        <td className="py-1.5 pr-3 tabular-nums">
                          {formatDuration(prediction.totalTimeMs)}
                        </td>
                        <td className="py-1.5 pr-3 tabular-nums">
                          {formatDuration(prediction.downtimeMs)}
                        </td>
                        <td className="py-1.5 text-xs text-muted">{prediction.reason}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <p className="text-xs text-muted">
                Planned in {formatDuration(plan.data.planningTimeMs)}.
              </p>
            </div>
          )}
          <ErrorBox error={migrate.error} title="The migration was refused" />
          <div className="flex justify-end gap-2">
            <Button onClick={() => close(false)}>Cancel</Button>
            <Button
              variant="primary"
              busy={migrate.isPending}
              disabled={targets.length === 0 || plan.isFetching}
              onClick={() => migrate.mutate()}
            >
              Migrate
            </Button>
          </div>
        </div>
      ) : (
        <div className="flex flex-col gap-4">
          <MigrationProgressView operationId={operationId} />
          <div className="flex justify-end">
            <Button onClick={() => close(false)}>Close</Button>
          </div>
        </div>
      )}
    </Dialog>
  );
}
