'use client';

import type { Operation } from '@novacron/api';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { MigrationProgressView } from '../../../components/migrate-dialog';
import {
  Button,
  ButtonLink,
  Card,
  EmptyState,
  ErrorBox,
  PageHeader,
  Properties,
  ProgressBar,
  Spinner,
  StateBadge,
} from '../../../components/ui';
import { formatAgo, formatDuration } from '../../../lib/format';
import { elapsedMs, isActive, laterOf, targetHref } from '../../../lib/operations';
import { useOperation } from '../../../lib/queries';
import { useIdParam, withSearchParams } from '../../../lib/search-params';
import { useApi } from '../../../lib/session';

/** A JSON value as the API gave it, indented. */
function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre
      aria-label={label}
      className="max-h-96 overflow-auto rounded-md bg-bg p-3 font-mono text-xs break-words whitespace-pre-wrap"
    >
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

function OperationPage() {
  const id = useIdParam();
  const api = useApi();
  const queries = useQueryClient();
  const { data: op, error, isLoading } = useOperation(id);
  const cancel = useMutation({
    mutationFn: () => api.operations.cancel(id ?? ''),
    onSuccess: (operation) =>
      queries.setQueryData<Operation>(['operation', operation.id], (cached) =>
        laterOf(cached, operation),
      ),
  });

  if (id === undefined) {
    return (
      <EmptyState
        title="No operation chosen"
        action={<ButtonLink href="/operations">All operations</ButtonLink>}
      />
    );
  }
  if (error !== null) {
    return (
      <div className="flex flex-col gap-3">
        <ErrorBox error={error} title="Cannot show this operation" />
        <ButtonLink href="/operations">All operations</ButtonLink>
      </div>
    );
  }
  if (op === undefined || isLoading) return <Spinner label="Loading" />;
  const tone =
    op.status === 'failed'
      ? 'bad'
      : op.status === 'succeeded'
        ? 'ok'
        : op.status === 'cancelled'
          ? 'muted'
          : 'info';
  return (
    <>
      <PageHeader
        title={`${op.kind} of ${op.target.name}`}
        subtitle={
          <span
            className="inline-flex items-center gap-2"
            data-testid="operation-status"
            data-status={op.status}
          >
            <StateBadge state={op.status} /> {op.phase}
          </span>
        }
        actions={
          <>
            {isActive(op) ? (
              <Button variant="danger" busy={cancel.isPending} onClick={() => cancel.mutate()}>
                Cancel operation
              </Button>
            ) : null}
            <ButtonLink href="/operations">All operations</ButtonLink>
          </>
        }
      />
      <div className="flex flex-col gap-4">
        <ErrorBox error={cancel.error} title="Cancel refused" />
        <Card title="Progress">
          {op.kind === 'vm.migrate' ? (
            // A migration's own progress events: bytes sent and left, the guest's dirty rate.
            <MigrationProgressView operationId={op.id} />
          ) : (
            <>
              <div className="mb-1.5 flex justify-between text-sm">
                <span>{op.phase}</span>
                <span className="tabular-nums">{Math.round(op.progress)} %</span>
              </div>
              <ProgressBar value={op.progress} label="Operation progress" tone={tone} />
            </>
          )}
        </Card>
        {op.error === null ? null : (
          <ErrorBox
            error={new Error(op.error.message)}
            title={`${op.kind} ${op.status} (${op.error.code})`}
          />
        )}
        <div className="grid gap-4 lg:grid-cols-2">
          <Card title="Details">
            <Properties
              items={[
                ['Kind', op.kind],
                [
                  'Target',
                  <Link key="target" href={targetHref(op.target)} className="text-accent">
                    {op.target.type} {op.target.name}
                  </Link>,
                ],
                ['Status', op.status],
                ['Phase', op.phase],
                ['Started', `${formatAgo(op.createdAt)} (${op.createdAt})`],
                ['Last update', `${formatAgo(op.updatedAt)} (${op.updatedAt})`],
                [isActive(op) ? 'Running for' : 'Took', formatDuration(elapsedMs(op))],
                [
                  'Id',
                  <code key="id" className="text-xs">
                    {op.id}
                  </code>,
                ],
              ]}
            />
          </Card>
          <Card title="Result">
            {op.result === null ? (
              <p className="text-sm text-muted">
                {isActive(op) ? 'None yet: the operation has not finished.' : 'No result.'}
              </p>
            ) : (
              <Json value={op.result} label="Result" />
            )}
            {op.metadata === null ? null : (
              <>
                <h3 className="mt-3 mb-1 text-sm font-semibold">Decided so far</h3>
                <Json value={op.metadata} label="Metadata" />
              </>
            )}
          </Card>
        </div>
      </div>
    </>
  );
}

export default withSearchParams(OperationPage);
