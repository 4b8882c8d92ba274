'use client';

import type { ImageUploadQuery, Operation } from '@novacron/api';
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { formatBytes } from '../lib/format';
import { useApi } from '../lib/session';
import { FormActions } from './dialog';
import { Field, Input, Spinner } from './ui';

/** What the server reads from an uploaded file (it checks the bytes, not the name). */
const ACCEPT = '.qcow2,.img,.raw,.vmdk,.vhd,.vhdx,.vdi,.ova';

/**
 * Uploads an image file from this computer (a disk image or an OVA) as the request body; the
 * server checks it before storing anything and converts it in an `image.import` operation.
 * Browsers report no progress of a request body over HTTP/1.1, so the upload shows its size and a
 * spinner; the conversion then shows the operation's progress.
 */
export function ImageUploadForm({
  onStarted,
  onCancel,
}: {
  onStarted: (operation: Operation) => void;
  onCancel: () => void;
}) {
  const api = useApi();
  const [file, setFile] = useState<File | undefined>(undefined);
  const [name, setName] = useState('');
  const [project, setProject] = useState('');
  const [sha256, setSha256] = useState('');
  const upload = useMutation({
    mutationFn: ({ query, body }: { query: ImageUploadQuery; body: File }) =>
      api.images.upload(query, body),
    onSuccess: (operation) => {
      setFile(undefined);
      setName('');
      setSha256('');
      onStarted(operation);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (file === undefined) return;
    upload.mutate({
      query: {
        name: name.trim(),
        ...(project.trim() === '' ? {} : { project: project.trim() }),
        ...(sha256.trim() === '' ? {} : { sha256: sha256.trim().toLowerCase() }),
      },
      body: file,
    });
  };
  return (
    <form className="flex flex-col gap-3" onSubmit={submit}>
      <Field
        label="Image file"
        hint="qcow2, raw, VMDK, VHD, VHDX, VDI, or an OVA (its boot disk is taken)"
      >
        {(props) => (
          <Input
            {...props}
            type="file"
            required
            accept={ACCEPT}
            onChange={(e) => {
              const chosen = e.target.files?.[0];
              setFile(chosen);
              // A name from the file's, in the API's alphabet, until the user types one.
              if (chosen !== undefined && name === '') {
                setName(
                  chosen.name
                    .replace(/\.[^.]+$/, '')
                    .toLowerCase()
                    .replace(/[^a-z0-9-]+/g, '-')
                    .replace(/^-+|-+$/g, '')
                    .slice(0, 63),
                );
              }
            }}
          />
        )}
      </Field>
      <Field label="Name" hint="Lowercase letters, digits and dashes; VMs name their image by it">
        {(props) => (
          <Input {...props} required value={name} onChange={(e) => setName(e.target.value)} />
        )}
      </Field>
      <Field label="Project" hint="Empty: the default project">
        {(props) => (
          <Input {...props} value={project} onChange={(e) => setProject(e.target.value)} />
        )}
      </Field>
      <Field label="Expected SHA-256" hint="Optional: a mismatch refuses the upload">
        {(props) => (
          <Input
            {...props}
            className="font-mono"
            value={sha256}
            onChange={(e) => setSha256(e.target.value)}
          />
        )}
      </Field>
      {upload.isPending && file !== undefined ? (
        <p role="status" className="text-sm">
          <Spinner label={`Uploading ${file.name} (${formatBytes(file.size)})…`} />
        </p>
      ) : null}
      <FormActions
        error={upload.error}
        errorTitle="The upload was refused"
        onCancel={onCancel}
        submitLabel="Upload"
        busy={upload.isPending}
        disabled={file === undefined}
      />
    </form>
  );
}
