'use client';

import {
  SNAPSHOT_NAME_PATTERN,
  TERMINAL_OPERATION_STATUSES,
  type Operation,
  type Vm,
  type VmSnapshot,
} from '@novacron/api';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { formatAgo, formatBytes } from '../lib/format';
import { laterOf } from '../lib/operations';
import { useOperation } from '../lib/queries';
import { useApi } from '../lib/session';
import { Dialog } from './dialog';
import { OperationProgress } from './operation';
import { Badge, Button, EmptyState, ErrorBox, Field, Input, Spinner } from './ui';

const NAME = new RegExp(SNAPSHOT_NAME_PATTERN);

type Pending = { kind: 'revert' | 'delete'; snapshot: VmSnapshot } | undefined;

/**
 * A VM's snapshots: take one (disk only, or with the running guest's memory), revert to one,
 * delete one. Each is an operation followed here; the list is read again when it ends.
 */
export function VmSnapshots({ vm }: { vm: Vm }) {
  const api = useApi();
  const queries = useQueryClient();
  const key = ['vm-snapshots', vm.id];
  const snapshots = useQuery({ queryKey: key, queryFn: () => api.vms.listSnapshots(vm.id) });
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [memory, setMemory] = useState(false);
  const [pending, setPending] = useState<Pending>(undefined);
  const [followed, setFollowed] = useState<{ id: string; label: string } | undefined>(undefined);
  const live = vm.state === 'running' || vm.state === 'paused';

  const follow = (operation: Operation, label: string) => {
    queries.setQueryData<Operation>(['operation', operation.id], (cached) =>
      laterOf(cached, operation),
    );
    setFollowed({ id: operation.id, label });
  };
  const take = useMutation({
    mutationFn: () =>
      api.vms.createSnapshot(vm.id, {
        name: name.trim(),
        ...(description.trim() === '' ? {} : { description: description.trim() }),
        ...(memory && live ? { memory: true } : {}),
      }),
    onSuccess: (operation) => {
      follow(operation, `Snapshot ${name.trim()}`);
      setName('');
      setDescription('');
    },
  });
  const act = useMutation({
    mutationFn: ({ kind, snapshot }: { kind: 'revert' | 'delete'; snapshot: VmSnapshot }) =>
      kind === 'revert'
        ? api.vms.revertSnapshot(vm.id, snapshot.name)
        : api.vms.deleteSnapshot(vm.id, snapshot.name),
    onSuccess: (operation, { kind, snapshot }) => {
      follow(operation, `${kind === 'revert' ? 'Revert to' : 'Delete'} ${snapshot.name}`);
      setPending(undefined);
    },
  });

  // Snapshots have no events of their own: the list is read again when the followed work ends.
  const operation = useOperation(followed?.id);
  const ended =
    operation.data !== undefined && TERMINAL_OPERATION_STATUSES.includes(operation.data.status);
  useEffect(() => {
    if (ended) void queries.invalidateQueries({ queryKey: ['vm-snapshots', vm.id] });
  }, [ended, queries, vm.id]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    take.mutate();
  };
  const nameError =
    name !== '' && !NAME.test(name.trim())
      ? 'A letter first, then letters, digits, _ and -; at most 63'
      : undefined;
  const items = snapshots.data?.items;

  return (
    <div className="flex flex-col gap-4">
      <form className="grid items-end gap-3 md:grid-cols-[1fr_1fr_auto_auto]" onSubmit={submit}>
        <Field label="Snapshot name" error={nameError}>
          {(props) => (
            <Input
              {...props}
              required
              maxLength={63}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        <Field label="Description">
          {(props) => (
            <Input
              {...props}
              value={description}
              onChange={(e) => setDescription(e.target.value)}
            />
          )}
        </Field>
        <label
          className="flex items-center gap-2 pb-2 text-sm"
          title={live ? undefined : 'Only a running or paused VM has memory to save'}
        >
          <input
            type="checkbox"
            checked={memory && live}
            disabled={!live}
            onChange={(e) => setMemory(e.target.checked)}
          />
          With memory
        </label>
        <Button
          type="submit"
          variant="primary"
          busy={take.isPending}
          disabled={name.trim() === '' || nameError !== undefined || vm.template === true}
        >
          Take snapshot
        </Button>
      </form>
      <ErrorBox error={take.error} title="The snapshot was refused" />
      {followed === undefined ? null : (
        <OperationProgress key={followed.id} id={followed.id} label={followed.label} />
      )}
      <ErrorBox error={snapshots.error} title="Cannot list the snapshots" />
      {items === undefined ? (
        snapshots.isLoading ? (
          <Spinner label="Loading" />
        ) : null
      ) : items.length === 0 ? (
        <EmptyState title="No snapshots yet">
          Take one above: disk only is like a power cut; with memory, a revert resumes the guest
          where it was.
        </EmptyState>
      ) : (
        <div className="overflow-x-auto rounded-lg border border-line">
          <table className="w-full min-w-[36rem] text-left text-sm" aria-label="Snapshots">
            <thead className="border-b border-line text-xs text-muted uppercase">
              <tr>
                <th className="px-3 py-2 font-medium">Name</th>
                <th className="px-3 py-2 font-medium">Taken</th>
                <th className="px-3 py-2 font-medium">Holds</th>
                <th className="px-3 py-2 font-medium">Description</th>
                <th className="px-3 py-2 font-medium">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((snapshot) => (
                <tr key={snapshot.id} className="border-b border-line last:border-0">
                  <td className="px-3 py-2 font-medium">{snapshot.name}</td>
                  <td className="px-3 py-2" title={snapshot.createdAt}>
                    {formatAgo(snapshot.createdAt)}{' '}
                    <span className="text-muted">({snapshot.vmState})</span>
                  </td>
                  <td className="px-3 py-2">
                    {snapshot.memory ? (
                      <Badge tone="info">disk + {formatBytes(snapshot.vmStateBytes)} memory</Badge>
                    ) : (
                      <Badge>disk only</Badge>
                    )}
                  </td>
                  <td className="px-3 py-2 text-muted">{snapshot.description || '–'}</td>
                  <td className="px-3 py-2">
                    <span className="flex justify-end gap-1.5">
                      <Button
                        aria-label={`Revert to snapshot ${snapshot.name}`}
                        onClick={() => {
                          act.reset();
                          setPending({ kind: 'revert', snapshot });
                        }}
                      >
                        Revert
                      </Button>
                      <Button
                        variant="danger"
                        aria-label={`Delete snapshot ${snapshot.name}`}
                        onClick={() => {
                          act.reset();
                          setPending({ kind: 'delete', snapshot });
                        }}
                      >
                        Delete
                      </Button>
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Dialog
        open={pending !== undefined}
        onOpenChange={(open) => {
          if (!open) setPending(undefined);
        }}
        title={
          pending?.kind === 'revert'
            ? `Revert ${vm.name} to ${pending.snapshot.name}?`
            : `Delete snapshot ${pending?.snapshot.name ?? ''}?`
        }
        description={
          pending?.kind === 'revert'
            ? pending.snapshot.memory
              ? "The disk and the guest's memory go back to that moment; what happened since is lost."
              : 'The disk goes back to that moment (a running guest boots again from it); what happened since is lost.'
            : 'The snapshot is removed from the disk; the VM is not changed.'
        }
      >
        <ErrorBox error={act.error} title="Refused" />
        <div className="mt-4 flex justify-end gap-2">
          <Button onClick={() => setPending(undefined)}>Cancel</Button>
          <Button
            variant="danger"
            busy={act.isPending}
            onClick={() => {
              if (pending !== undefined) act.mutate(pending);
            }}
          >
            {pending?.kind === 'revert' ? 'Revert' : 'Delete'}
          </Button>
        </div>
      </Dialog>
    </div>
  );
}
