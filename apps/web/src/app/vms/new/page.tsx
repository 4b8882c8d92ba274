'use client';

import {
  NAME_PATTERN,
  type Image,
  type SchedulerExplainRequest,
  type VmCreate,
} from '@novacron/api';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useEffect, useState, type FormEvent } from 'react';
import { CloudInitFields } from '../../../components/cloud-init-fields';
import { OperationProgress } from '../../../components/operation';
import {
  Badge,
  Button,
  ButtonLink,
  Card,
  EmptyState,
  ErrorBox,
  Field,
  Input,
  PageHeader,
  Select,
  Spinner,
  StateBadge,
} from '../../../components/ui';
import { cloudInitOf, EMPTY_CLOUD_INIT } from '../../../lib/cloud-init';
import { formatBytes } from '../../../lib/format';
import { useAllHosts, useOperation, vmHref } from '../../../lib/queries';
import { useApi } from '../../../lib/session';

const STEPS = ['Image', 'Size', 'Placement'] as const;
type Step = 0 | 1 | 2;

interface Size {
  name: string;
  cpus: string;
  memoryMiB: string;
  diskGiB: string;
}

/** The numbers the user typed; empty ones are left to the server's defaults. */
function sizeOf(size: Size): Pick<VmCreate, 'cpus' | 'memoryMiB' | 'diskGiB'> {
  const pick = (value: string) => (value.trim() === '' ? undefined : Number(value));
  const cpus = pick(size.cpus);
  const memoryMiB = pick(size.memoryMiB);
  const diskGiB = pick(size.diskGiB);
  return {
    ...(cpus === undefined ? {} : { cpus }),
    ...(memoryMiB === undefined ? {} : { memoryMiB }),
    ...(diskGiB === undefined ? {} : { diskGiB }),
  };
}

function ImageStep({
  images,
  chosen,
  onChoose,
}: {
  images: Image[];
  chosen: string;
  onChoose: (name: string) => void;
}) {
  if (images.length === 0) {
    return (
      <EmptyState title="No images yet">
        Import one with <code>novacron image import NAME URL</code>; the built-in <code>tiny</code>{' '}
        image appears once the server has built it.
      </EmptyState>
    );
  }
  return (
    <fieldset>
      <legend className="mb-2 text-sm font-medium">Image</legend>
      <div className="grid gap-2 sm:grid-cols-2">
        {images.map((image) => {
          const usable = image.status === 'ready';
          return (
            <label
              key={image.id}
              className={`flex cursor-pointer items-start gap-3 rounded-md border p-3 ${chosen === image.name ? 'border-accent bg-accent/10' : 'border-line'} ${usable ? '' : 'opacity-60'}`}
            >
              <input
                type="radio"
                name="image"
                value={image.name}
                disabled={!usable}
                checked={chosen === image.name}
                onChange={() => onChoose(image.name)}
                className="mt-1"
              />
              <span className="flex flex-col gap-0.5 text-sm">
                <span className="font-medium">
                  {image.name} {image.builtin ? <Badge>built-in</Badge> : null}
                </span>
                <span className="text-xs text-muted">
                  {image.kind} · {formatBytes(image.sizeBytes)} ·{' '}
                  <StateBadge state={image.status} />
                </span>
              </span>
            </label>
          );
        })}
      </div>
    </fieldset>
  );
}

function Explanation({ request }: { request: SchedulerExplainRequest }) {
  const api = useApi();
  const explain = useQuery({
    queryKey: ['scheduler-explain', request],
    queryFn: () => api.scheduler.explain(request),
    retry: false,
  });
  if (explain.error !== null)
    return <ErrorBox error={explain.error} title="The scheduler could not explain" />;
  if (explain.data === undefined) return <Spinner label="Asking the scheduler" />;
  const { data } = explain;
  return (
    <div className="flex flex-col gap-3 text-sm" data-testid="scheduler-explanation">
      <p>
        {data.chosen === null ? (
          <span className="text-bad">No host fits.</span>
        ) : (
          <>
            The scheduler picks <strong>{data.chosen}</strong>
          </>
        )}{' '}
        <span className="text-muted">
          ({data.reason}; policy {data.policy}, {data.hosts} hosts)
        </span>
      </p>
      {data.candidates.length === 0 ? null : (
        <div className="overflow-x-auto">
          <table className="w-full text-left" aria-label="Candidate hosts">
            <thead className="text-xs text-muted uppercase">
              <tr>
                <th className="py-1 pr-3 font-medium">Host</th>
                <th className="py-1 pr-3 font-medium">Score</th>
                <th className="py-1 font-medium">Scores (value × weight)</th>
              </tr>
            </thead>
            <tbody>
              {data.candidates.map((candidate) => (
                <tr key={candidate.host} className="border-t border-line">
                  <td className="py-1.5 pr-3">
                    {candidate.host}{' '}
                    {candidate.host === data.chosen ? <Badge tone="ok">chosen</Badge> : null}
                  </td>
                  <td className="py-1.5 pr-3 tabular-nums">{candidate.score.toFixed(3)}</td>
                  <td className="py-1.5 text-xs text-muted">
                    {Object.entries(candidate.scores)
                      .map(([name, s]) => `${name} ${s.value.toFixed(2)}×${s.weight}`)
                      .join(', ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data.filters.some((filter) => filter.removed.length > 0) ? (
        <ul className="flex flex-col gap-1 text-xs" aria-label="Hosts filtered out">
          {data.filters.flatMap((filter) =>
            filter.removed.map((removal) => (
              <li key={`${filter.filter}-${removal.host}`}>
                <span className="font-medium">{removal.host}</span> left out by {filter.filter}:{' '}
                {removal.reason}
              </li>
            )),
          )}
        </ul>
      ) : null}
    </div>
  );
}

function Created({ operationId }: { operationId: string }) {
  const router = useRouter();
  const { data: operation } = useOperation(operationId);
  const vmId = operation?.target.id;
  useEffect(() => {
    if (operation?.status === 'succeeded' && vmId !== undefined) router.push(vmHref({ id: vmId }));
  }, [operation?.status, vmId, router]);
  return (
    <Card title="Creating">
      <OperationProgress id={operationId} label="Create" />
      {vmId === undefined ? null : (
        <div className="mt-3">
          <ButtonLink href={vmHref({ id: vmId })}>Open the VM</ButtonLink>
        </div>
      )}
    </Card>
  );
}

export default function CreateVmPage() {
  const api = useApi();
  const queries = useQueryClient();
  const hosts = useAllHosts();
  const images = useQuery({
    queryKey: ['images', { all: true }],
    queryFn: () => api.images.list({ limit: 1000 }),
  });
  const [step, setStep] = useState<Step>(0);
  const [image, setImage] = useState('');
  const [size, setSize] = useState<Size>({ name: '', cpus: '', memoryMiB: '', diskGiB: '' });
  const [placement, setPlacement] = useState<'auto' | 'host'>('auto');
  const [host, setHost] = useState('');
  const [cloudInit, setCloudInit] = useState(EMPTY_CLOUD_INIT);
  const [operationId, setOperationId] = useState<string | undefined>(undefined);
  const nameValid = new RegExp(NAME_PATTERN).test(size.name);

  useEffect(() => {
    const first = images.data?.items.find((i) => i.status === 'ready');
    if (image === '' && first !== undefined) setImage(first.name);
  }, [images.data, image]);

  const create = useMutation({
    mutationFn: () =>
      api.vms.create({
        name: size.name,
        image,
        ...sizeOf(size),
        ...(placement === 'host' && host !== '' ? { host } : {}),
        ...cloudInitOf(cloudInit),
      }),
    onSuccess: (operation) => {
      queries.setQueryData(['operation', operation.id], operation);
      setOperationId(operation.id);
    },
  });

  if (operationId !== undefined) {
    return (
      <>
        <PageHeader title="Create VM" />
        <Created operationId={operationId} />
      </>
    );
  }

  const canNext = step === 0 ? image !== '' : step === 1 ? nameValid : true;
  const next = (event: FormEvent) => {
    event.preventDefault();
    if (!canNext) return;
    if (step < 2) setStep((step + 1) as Step);
    else create.mutate();
  };
  const setField = (key: keyof Size) => (e: { target: { value: string } }) =>
    setSize({ ...size, [key]: e.target.value });

  return (
    <>
      <PageHeader title="Create VM" subtitle="Pick an image, a size and where it runs" />
      <ol className="mb-4 flex flex-wrap gap-2 text-sm" aria-label="Steps">
        {STEPS.map((label, index) => (
          <li key={label} aria-current={index === step ? 'step' : undefined}>
            <button
              type="button"
              disabled={index > step}
              onClick={() => setStep(index as Step)}
              className={`rounded-full border px-3 py-1 ${index === step ? 'border-accent bg-accent/15 text-accent' : 'border-line text-muted'}`}
            >
              {index + 1}. {label}
            </button>
          </li>
        ))}
      </ol>
      <form onSubmit={next}>
        <Card>
          {step === 0 ? (
            images.error !== null ? (
              <ErrorBox error={images.error} />
            ) : images.data === undefined ? (
              <Spinner label="Loading images" />
            ) : (
              <ImageStep images={images.data.items} chosen={image} onChoose={setImage} />
            )
          ) : step === 1 ? (
            <div className="grid gap-4 sm:grid-cols-2">
              <Field
                label="Name"
                hint="Lower-case letters, digits and dashes"
                error={
                  size.name !== '' && !nameValid
                    ? 'Use lower-case letters, digits and dashes (at most 63)'
                    : undefined
                }
              >
                {(props) => (
                  <Input
                    {...props}
                    name="name"
                    required
                    autoFocus
                    value={size.name}
                    onChange={setField('name')}
                  />
                )}
              </Field>
              <Field label="vCPUs" hint="Empty: the server's default">
                {(props) => (
                  <Input
                    {...props}
                    name="cpus"
                    type="number"
                    min={1}
                    value={size.cpus}
                    onChange={setField('cpus')}
                  />
                )}
              </Field>
              <Field label="Memory (MiB)" hint="Empty: the server's default">
                {(props) => (
                  <Input
                    {...props}
                    name="memoryMiB"
                    type="number"
                    min={16}
                    value={size.memoryMiB}
                    onChange={setField('memoryMiB')}
                  />
                )}
              </Field>
              <Field label="Disk (GiB)" hint="Empty: the server's default">
                {(props) => (
                  <Input
                    {...props}
                    name="diskGiB"
                    type="number"
                    min={1}
                    value={size.diskGiB}
                    onChange={setField('diskGiB')}
                  />
                )}
              </Field>
              <div className="sm:col-span-2">
                <CloudInitFields value={cloudInit} onChange={setCloudInit} />
              </div>
            </div>
          ) : (
            <div className="flex flex-col gap-4">
              <fieldset className="flex flex-col gap-2 text-sm">
                <legend className="mb-1 font-medium">Placement</legend>
                <label className="flex items-center gap-2">
                  <input
                    type="radio"
                    name="placement"
                    checked={placement === 'auto'}
                    onChange={() => setPlacement('auto')}
                  />
                  Automatic: the scheduler chooses
                </label>
                <label className="flex items-center gap-2">
                  <input
                    type="radio"
                    name="placement"
                    checked={placement === 'host'}
                    onChange={() => setPlacement('host')}
                  />
                  On a host I choose
                </label>
              </fieldset>
              {placement === 'host' ? (
                <Field label="Host">
                  {(props) => (
                    <Select
                      {...props}
                      value={host}
                      onChange={(e) => setHost(e.target.value)}
                      required
                    >
                      <option value="">Choose a host</option>
                      {(hosts.data?.items ?? []).map((h) => (
                        <option key={h.id} value={h.name}>
                          {h.name} ({h.state}
                          {h.cordoned ? ', cordoned' : ''})
                        </option>
                      ))}
                    </Select>
                  )}
                </Field>
              ) : null}
              <Explanation
                request={{
                  ...sizeOf(size),
                  ...(placement === 'host' && host !== '' ? { host } : {}),
                }}
              />
            </div>
          )}
          <ErrorBox error={create.error} title="The VM was not created" />
          <div className="mt-4 flex justify-between gap-2">
            <Button disabled={step === 0} onClick={() => setStep((step - 1) as Step)}>
              Back
            </Button>
            <Button type="submit" variant="primary" disabled={!canNext} busy={create.isPending}>
              {step < 2 ? 'Next' : 'Create'}
            </Button>
          </div>
        </Card>
      </form>
    </>
  );
}
