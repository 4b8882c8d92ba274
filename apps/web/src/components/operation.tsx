'use client';

import { useOperation } from '../lib/queries';
import { ErrorBox, ProgressBar, StateBadge } from './ui';

/** An operation as it goes: its status, phase and progress, updated by events; its error if any. */
export function OperationProgress({ id, label }: { id: string; label: string }) {
  const { data: operation, error } = useOperation(id);
  if (error !== null) return <ErrorBox error={error} />;
  if (operation === undefined) return null;
  const tone =
    operation.status === 'failed' ? 'bad' : operation.status === 'succeeded' ? 'ok' : 'info';
  return (
    <div
      className="flex flex-col gap-1.5"
      data-operation={operation.id}
      data-status={operation.status}
    >
      <div className="flex flex-wrap items-center justify-between gap-2 text-sm">
        <span>
          {label} <StateBadge state={operation.status} />
        </span>
        <span className="text-xs text-muted tabular-nums">
          {operation.phase} · {Math.round(operation.progress)} %
        </span>
      </div>
      <ProgressBar value={operation.progress} label={label} tone={tone} />
      {operation.error === null ? null : (
        <ErrorBox
          error={new Error(operation.error.message)}
          title={`${operation.kind} failed (${operation.error.code})`}
        />
      )}
    </div>
  );
}
