'use client';

import type { Image, ImageImport, Operation } from '@novacron/api';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ColumnDef } from '@tanstack/react-table';
import Link from 'next/link';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { createdAtColumn, DataTable, Pager, usePagedList } from '../../components/data-table';
import { Dialog, FormActions } from '../../components/dialog';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { ImageUploadForm } from '../../components/image-upload';
import { SearchField } from '../../components/list-toolbar';
import { OperationProgress } from '../../components/operation';
import {
  Badge,
  Button,
  Card,
  EmptyState,
  ErrorBox,
  Field,
  Input,
  PageHeader,
  StateBadge,
} from '../../components/ui';
import { formatBytes } from '../../lib/format';
import { laterOf, operationHref } from '../../lib/operations';
import { useApi } from '../../lib/session';

/** Imports pending or running, kept current by operation events (the `operations` prefix). */
function useActiveImports() {
  const api = useApi();
  return useQuery({
    queryKey: ['operations', { kind: 'image.import', active: true }],
    queryFn: async (): Promise<{ items: Operation[]; nextCursor: null }> => {
      const [running, pending] = await Promise.all([
        api.operations.list({ kind: 'image.import', status: 'running', limit: 100 }),
        api.operations.list({ kind: 'image.import', status: 'pending', limit: 100 }),
      ]);
      return { items: [...pending.items, ...running.items], nextCursor: null };
    },
  });
}

type Source = 'file' | 'disk' | 'kernel';

function ImportDialog({
  open,
  onOpenChange,
  onStarted,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  onStarted: (operation: Operation) => void;
}) {
  const api = useApi();
  const [source, setSource] = useState<Source>('file');
  const [name, setName] = useState('');
  const [project, setProject] = useState('');
  const [url, setUrl] = useState('');
  const [sha256, setSha256] = useState('');
  const [kernelUrl, setKernelUrl] = useState('');
  const [initrdUrl, setInitrdUrl] = useState('');
  const [kernelArgs, setKernelArgs] = useState('');
  const start = useMutation({
    mutationFn: (request: ImageImport) => api.images.import(request),
    onSuccess: (operation) => {
      onStarted(operation);
      onOpenChange(false);
      setName('');
      setUrl('');
      setSha256('');
      setKernelUrl('');
      setInitrdUrl('');
      setKernelArgs('');
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const optional = (key: string, value: string) =>
      value.trim() === '' ? {} : { [key]: value.trim() };
    start.mutate({
      name: name.trim(),
      ...optional('project', project),
      ...(source === 'disk'
        ? { url: url.trim(), ...optional('sha256', sha256.toLowerCase()) }
        : { kernelUrl: kernelUrl.trim(), initrdUrl: initrdUrl.trim() }),
      ...optional('defaultKernelArgs', kernelArgs),
    });
  };
  return (
    <Dialog
      open={open}
      onOpenChange={onOpenChange}
      title="Import an image"
      description="The server checks the image and stores it as qcow2; the import runs as an operation."
      wide
    >
      <fieldset className="mb-3 flex flex-wrap gap-4 text-sm">
        <legend className="mb-1 text-sm font-medium">Source</legend>
        <label className="flex items-center gap-1.5">
          <input
            type="radio"
            name="source"
            checked={source === 'file'}
            onChange={() => setSource('file')}
          />
          A file from this computer
        </label>
        <label className="flex items-center gap-1.5">
          <input
            type="radio"
            name="source"
            checked={source === 'disk'}
            onChange={() => setSource('disk')}
          />
          A disk image by URL
        </label>
        <label className="flex items-center gap-1.5">
          <input
            type="radio"
            name="source"
            checked={source === 'kernel'}
            onChange={() => setSource('kernel')}
          />
          A kernel and initramfs by URL
        </label>
      </fieldset>
      {source === 'file' ? (
        <ImageUploadForm
          onStarted={(operation) => {
            onStarted(operation);
            onOpenChange(false);
          }}
          onCancel={() => onOpenChange(false)}
        />
      ) : (
        <form className="flex flex-col gap-3" onSubmit={submit}>
          <Field
            label="Name"
            hint="Lowercase letters, digits and dashes; VMs name their image by it"
          >
            {(props) => (
              <Input {...props} required value={name} onChange={(e) => setName(e.target.value)} />
            )}
          </Field>
          <Field label="Project" hint="Empty: the default project">
            {(props) => (
              <Input {...props} value={project} onChange={(e) => setProject(e.target.value)} />
            )}
          </Field>
          {source === 'disk' ? (
            <>
              <Field
                label="Disk image URL"
                hint="http(s); qcow2, raw, VMDK, VHD/VHDX, VDI or an OVA, fetched by the server"
              >
                {(props) => (
                  <Input
                    {...props}
                    type="url"
                    required
                    placeholder="https://…"
                    value={url}
                    onChange={(e) => setUrl(e.target.value)}
                  />
                )}
              </Field>
              <Field label="Expected SHA-256" hint="Optional: a mismatch fails the import">
                {(props) => (
                  <Input
                    {...props}
                    className="font-mono"
                    value={sha256}
                    onChange={(e) => setSha256(e.target.value)}
                  />
                )}
              </Field>
            </>
          ) : (
            <>
              <Field label="Kernel URL">
                {(props) => (
                  <Input
                    {...props}
                    type="url"
                    required
                    value={kernelUrl}
                    onChange={(e) => setKernelUrl(e.target.value)}
                  />
                )}
              </Field>
              <Field label="Initramfs URL">
                {(props) => (
                  <Input
                    {...props}
                    type="url"
                    required
                    value={initrdUrl}
                    onChange={(e) => setInitrdUrl(e.target.value)}
                  />
                )}
              </Field>
            </>
          )}
          <Field
            label="Default kernel arguments"
            hint="Optional: every VM of the image boots with them"
          >
            {(props) => (
              <Input
                {...props}
                value={kernelArgs}
                onChange={(e) => setKernelArgs(e.target.value)}
              />
            )}
          </Field>
          <FormActions
            error={start.error}
            errorTitle="The import was refused"
            onCancel={() => onOpenChange(false)}
            submitLabel="Import"
            busy={start.isPending}
          />
        </form>
      )}
    </Dialog>
  );
}

export default function ImagesPage() {
  const api = useApi();
  const queries = useQueryClient();
  const [search, setSearch] = useState('');
  const [importing, setImporting] = useState(false);
  const [started, setStarted] = useState<Operation[]>([]);
  const [toDelete, setToDelete] = useState<Image | undefined>(undefined);
  const list = usePagedList('images', {}, (query) => api.images.list(query));
  const imports = useActiveImports();
  const remove = useMutation({
    mutationFn: (image: Image) => api.images.delete(image.id),
    onSuccess: () => {
      setToDelete(undefined);
      void queries.invalidateQueries({ queryKey: ['images'] });
    },
  });

  // Images have no events of their own: an import that starts or ends changes the list.
  const activeIds = (imports.data?.items ?? []).map((op) => op.id).join(',');
  useEffect(() => {
    void queries.invalidateQueries({ queryKey: ['images'] });
  }, [activeIds, queries]);

  // Imports started here stay shown after they end (their result or error); others while active.
  const followed = useMemo(() => {
    const mine = new Set(started.map((op) => op.id));
    return [...started, ...(imports.data?.items ?? []).filter((op) => !mine.has(op.id))];
  }, [started, imports.data]);

  const columns = useMemo<ColumnDef<Image, unknown>[]>(
    () => [
      {
        id: 'name',
        header: 'Name',
        accessorKey: 'name',
        cell: ({ row }) => (
          <span className="flex items-center gap-1.5 font-medium">
            {row.original.name}
            {row.original.builtin ? <Badge tone="info">built-in</Badge> : null}
          </span>
        ),
      },
      {
        id: 'status',
        header: 'Status',
        accessorKey: 'status',
        cell: ({ row }) => <StateBadge state={row.original.status} />,
      },
      { id: 'kind', header: 'Kind', accessorKey: 'kind' },
      { id: 'project', header: 'Project', accessorKey: 'project' },
      {
        id: 'size',
        header: 'Size',
        accessorKey: 'sizeBytes',
        cell: ({ row }) => (
          <span className="tabular-nums">{formatBytes(row.original.sizeBytes)}</span>
        ),
      },
      {
        id: 'sha256',
        header: 'SHA-256',
        accessorKey: 'sha256',
        cell: ({ row }) => (
          <code className="text-xs" title={row.original.sha256}>
            {row.original.sha256 === '' ? '–' : `${row.original.sha256.slice(0, 12)}…`}
          </code>
        ),
      },
      createdAtColumn<Image>('created', 'Added'),
      {
        id: 'actions',
        header: '',
        enableSorting: false,
        cell: ({ row }) => (
          <Button
            variant="danger"
            aria-label={`Delete image ${row.original.name}`}
            onClick={() => {
              remove.reset();
              setToDelete(row.original);
            }}
          >
            Delete
          </Button>
        ),
      },
    ],
    [remove],
  );

  return (
    <>
      <PageHeader
        title="Images"
        subtitle="What VMs boot from: built-in images and the ones imported"
        actions={
          <Button variant="primary" onClick={() => setImporting(true)}>
            Import image
          </Button>
        }
      />
      {followed.length === 0 ? null : (
        <Card title="Imports" className="mb-4">
          <ul className="flex flex-col gap-3">
            {followed.map((op) => (
              <li key={op.id} className="flex flex-col gap-1">
                <OperationProgress id={op.id} label={`Import of ${op.target.name}`} />
                <Link href={operationHref(op)} className="text-xs text-accent hover:underline">
                  Operation details
                </Link>
              </li>
            ))}
          </ul>
          <ErrorBox error={imports.error} />
        </Card>
      )}
      <div className="mb-3 max-w-xs">
        <SearchField
          label="Search"
          placeholder="Name, project, status… (this page)"
          value={search}
          onChange={setSearch}
        />
      </div>
      <DataTable
        label="Images"
        rows={list.items}
        columns={columns}
        getRowId={(image) => image.id}
        search={search}
        loading={list.query.isLoading}
        error={list.query.error}
        empty={
          <EmptyState
            title="No images yet"
            action={
              <Button variant="primary" onClick={() => setImporting(true)}>
                Import an image
              </Button>
            }
          >
            Upload a disk image or an OVA, import one by URL, or a kernel and initramfs; or use{' '}
            <code>novacron image import</code>.
          </EmptyState>
        }
      />
      <Pager list={list} noun="images" />
      <ImportDialog
        open={importing}
        onOpenChange={setImporting}
        onStarted={(operation) => {
          queries.setQueryData<Operation>(['operation', operation.id], (cached) =>
            laterOf(cached, operation),
          );
          setStarted((ops) => [operation, ...ops]);
          void queries.invalidateQueries({ queryKey: ['images'] });
        }}
      />
      <ConfirmDialog
        item={toDelete}
        onClose={() => setToDelete(undefined)}
        title={`Delete image ${toDelete?.name ?? ''}?`}
        description={
          toDelete?.builtin === true
            ? 'A built-in image: its files are removed, and the server builds it again at its next start.'
            : 'Its files are removed from the server; VMs created from it later will not find it.'
        }
        error={remove.error}
        errorTitle="The delete was refused"
        busy={remove.isPending}
        confirmLabel="Delete"
        onConfirm={(item) => remove.mutate(item)}
      />
    </>
  );
}
