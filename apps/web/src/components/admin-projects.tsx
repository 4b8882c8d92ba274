'use client';

import type { Project, ProjectQuotas } from '@novacron/api';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { formatAgo, formatMiB } from '../lib/format';
import { useApi } from '../lib/session';
import { useProjects } from './admin-users';
import { ConfirmDialog } from './confirm-dialog';
import { Dialog, FormActions } from './dialog';
import { Button, Card, EmptyState, ErrorBox, Field, Input, ProgressBar, Spinner } from './ui';

type QuotaKey = keyof ProjectQuotas;

/** Each quota, the usage it bounds, and how both read. */
const QUOTAS: {
  key: QuotaKey;
  usage: keyof Project['usage'];
  label: string;
  unit: string;
  format: (value: number) => string;
}[] = [
  { key: 'maxVms', usage: 'vms', label: 'VMs', unit: '', format: String },
  { key: 'maxVcpus', usage: 'vcpus', label: 'vCPUs', unit: '', format: String },
  {
    key: 'maxMemoryMiB',
    usage: 'memoryMiB',
    label: 'Memory',
    unit: 'MiB',
    format: (v) => (v === 0 ? '0 MiB' : formatMiB(v)),
  },
  { key: 'maxDiskGiB', usage: 'diskGiB', label: 'Disk', unit: 'GiB', format: (v) => `${v} GiB` },
];

type QuotaText = Record<QuotaKey, string>;

function textOf(quotas: ProjectQuotas | undefined): QuotaText {
  const text = (value: number | null | undefined) =>
    value === null || value === undefined ? '' : String(value);
  return {
    maxVms: text(quotas?.maxVms),
    maxVcpus: text(quotas?.maxVcpus),
    maxMemoryMiB: text(quotas?.maxMemoryMiB),
    maxDiskGiB: text(quotas?.maxDiskGiB),
  };
}

/** Empty lifts the limit (null); anything else must be a whole number, as the API checks. */
function quotasOf(text: QuotaText): ProjectQuotas {
  const value = (raw: string) => (raw.trim() === '' ? null : Number(raw.trim()));
  return {
    maxVms: value(text.maxVms),
    maxVcpus: value(text.maxVcpus),
    maxMemoryMiB: value(text.maxMemoryMiB),
    maxDiskGiB: value(text.maxDiskGiB),
  };
}

function QuotaFields({
  text,
  onChange,
  project,
}: {
  text: QuotaText;
  onChange: (text: QuotaText) => void;
  project?: Project;
}) {
  return (
    <div className="grid gap-3 sm:grid-cols-2">
      {QUOTAS.map((quota) => (
        <Field
          key={quota.key}
          label={`Max ${quota.label}${quota.unit === '' ? '' : ` (${quota.unit})`}`}
          hint={
            project === undefined
              ? 'Empty: no limit'
              : `In use: ${quota.format(project.usage[quota.usage])}; empty: no limit`
          }
        >
          {(props) => (
            <Input
              {...props}
              type="number"
              min={0}
              step={1}
              inputMode="numeric"
              value={text[quota.key]}
              onChange={(e) => onChange({ ...text, [quota.key]: e.target.value })}
            />
          )}
        </Field>
      ))}
    </div>
  );
}

function CreateProjectDialog({
  open,
  onOpenChange,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const api = useApi();
  const queries = useQueryClient();
  const [name, setName] = useState('');
  const [text, setText] = useState<QuotaText>(textOf(undefined));
  const create = useMutation({
    mutationFn: () => {
      const quotas = Object.fromEntries(
        Object.entries(quotasOf(text)).filter(([, value]) => value !== null),
      );
      return api.projects.create({ name: name.trim(), ...quotas });
    },
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ['projects'] });
      onOpenChange(false);
      setName('');
      setText(textOf(undefined));
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <Dialog open={open} onOpenChange={onOpenChange} title="Create a project" wide>
      <form className="flex flex-col gap-3" onSubmit={submit}>
        <Field label="Project name" hint="Lowercase letters, digits and dashes">
          {(props) => (
            <Input {...props} required value={name} onChange={(e) => setName(e.target.value)} />
          )}
        </Field>
        <QuotaFields text={text} onChange={setText} />
        <FormActions
          error={create.error}
          errorTitle="The project was not created"
          onCancel={() => onOpenChange(false)}
          submitLabel="Create project"
          busy={create.isPending}
        />
      </form>
    </Dialog>
  );
}

function QuotasDialog({ project, onClose }: { project: Project | undefined; onClose: () => void }) {
  const api = useApi();
  const queries = useQueryClient();
  const [text, setText] = useState<QuotaText>(textOf(project?.quotas));
  const [shown, setShown] = useState<string | undefined>(undefined);
  // A dialog opened for another project starts from its quotas.
  if (project !== undefined && shown !== project.id) {
    setShown(project.id);
    setText(textOf(project.quotas));
  }
  const save = useMutation({
    mutationFn: () => api.projects.setQuotas(project?.name ?? '', quotasOf(text)),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ['projects'] });
      onClose();
    },
  });
  return (
    <Dialog
      open={project !== undefined}
      onOpenChange={(open) => {
        if (!open) {
          save.reset();
          setShown(undefined);
          onClose();
        }
      }}
      title={`Quotas of ${project?.name ?? ''}`}
      description="Creating or growing a VM past a quota is refused; what already runs stays."
      wide
    >
      <form
        className="flex flex-col gap-3"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        {project === undefined ? null : (
          <QuotaFields text={text} onChange={setText} project={project} />
        )}
        <FormActions
          error={save.error}
          errorTitle="The quotas were not changed"
          onCancel={onClose}
          submitLabel="Save quotas"
          busy={save.isPending}
        />
      </form>
    </Dialog>
  );
}

function Usage({ project }: { project: Project }) {
  return (
    <dl className="grid gap-2 sm:grid-cols-2">
      {QUOTAS.map((quota) => {
        const used = project.usage[quota.usage];
        const max = project.quotas[quota.key];
        return (
          <div key={quota.key} className="flex flex-col gap-1">
            <div className="flex justify-between gap-2 text-xs">
              <dt className="text-muted">{quota.label}</dt>
              <dd className="tabular-nums" data-quota={quota.key}>
                {max === null
                  ? `${quota.format(used)} · no limit`
                  : `${quota.format(used)} of ${quota.format(max)}`}
              </dd>
            </div>
            {max === null ? null : (
              <ProgressBar
                value={max === 0 ? (used > 0 ? 100 : 0) : (used / max) * 100}
                label={`${quota.label} used in ${project.name}`}
                tone={used >= max ? 'bad' : used / Math.max(1, max) > 0.8 ? 'warn' : 'info'}
              />
            )}
          </div>
        );
      })}
    </dl>
  );
}

export function ProjectsPanel() {
  const api = useApi();
  const queries = useQueryClient();
  const projects = useProjects();
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Project | undefined>(undefined);
  const [toDelete, setToDelete] = useState<Project | undefined>(undefined);
  const remove = useMutation({
    mutationFn: (project: Project) => api.projects.delete(project.name),
    onSuccess: () => {
      setToDelete(undefined);
      void queries.invalidateQueries({ queryKey: ['projects'] });
    },
  });
  const items = projects.data?.items;
  return (
    <div className="flex flex-col gap-3">
      <div className="flex justify-end">
        <Button variant="primary" onClick={() => setCreating(true)}>
          Create project
        </Button>
      </div>
      <ErrorBox error={projects.error} title="Cannot list the projects" />
      {items === undefined ? (
        projects.isLoading ? (
          <Spinner label="Loading" />
        ) : null
      ) : items.length === 0 ? (
        <EmptyState
          title="No projects you can see"
          action={
            <Button variant="primary" onClick={() => setCreating(true)}>
              Create a project
            </Button>
          }
        />
      ) : (
        <ul className="grid gap-3 md:grid-cols-2" aria-label="Projects">
          {items.map((project) => (
            <li key={project.id} data-project={project.name}>
              <Card
                title={project.name}
                actions={
                  <span className="flex gap-1.5">
                    <Button
                      aria-label={`Edit the quotas of ${project.name}`}
                      onClick={() => setEditing(project)}
                    >
                      Quotas
                    </Button>
                    {project.name === 'default' ? null : (
                      <Button
                        variant="danger"
                        aria-label={`Delete project ${project.name}`}
                        onClick={() => {
                          remove.reset();
                          setToDelete(project);
                        }}
                      >
                        Delete
                      </Button>
                    )}
                  </span>
                }
              >
                <Usage project={project} />
                <p className="mt-2 text-xs text-muted" title={project.createdAt}>
                  Created {formatAgo(project.createdAt)}
                </p>
              </Card>
            </li>
          ))}
        </ul>
      )}
      <CreateProjectDialog open={creating} onOpenChange={setCreating} />
      <QuotasDialog project={editing} onClose={() => setEditing(undefined)} />
      <ConfirmDialog
        item={toDelete}
        onClose={() => setToDelete(undefined)}
        title={`Delete project ${toDelete?.name ?? ''}?`}
        description="Only an empty project can be deleted."
        error={remove.error}
        errorTitle="The delete was refused"
        busy={remove.isPending}
        confirmLabel="Delete"
        onConfirm={(item) => remove.mutate(item)}
      />
    </div>
  );
}
