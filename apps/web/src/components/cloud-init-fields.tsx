'use client';

import { MAX_CLOUD_INIT_SSH_KEYS } from '@novacron/api';
import { useState } from 'react';
import { cloudInitOf, sshKeysOf, type CloudInitDraft } from '../lib/cloud-init';
import { Field, TextArea } from './ui';

/**
 * cloud-init user data and SSH keys for a new VM (its guest's host name is the VM's): kept with the VM and given to its
 * guest on a NoCloud seed CD-ROM at each start. Images without cloud-init ignore them.
 */
export function CloudInitFields({
  value,
  onChange,
}: {
  value: CloudInitDraft;
  onChange: (value: CloudInitDraft) => void;
}) {
  const keys = sshKeysOf(value.sshKeys).length;
  // Open when it holds something (coming back to this step); then the user opens and closes it.
  const [initiallyOpen] = useState(() => cloudInitOf(value).cloudInit !== undefined);
  return (
    <details className="rounded-md border border-line p-3" open={initiallyOpen}>
      <summary className="cursor-pointer text-sm font-medium">
        cloud-init: user data and SSH keys (optional)
      </summary>
      <div className="mt-3 flex flex-col gap-3">
        <p className="text-xs text-muted">
          Given to the guest on a NoCloud seed CD-ROM at each start, for images that run cloud-init
          (the built-in <code>tiny</code> does not). The API never shows the user data again.
        </p>
        <Field
          label="SSH public keys"
          hint={`One OpenSSH key a line (${keys} of at most ${MAX_CLOUD_INIT_SSH_KEYS})`}
        >
          {(props) => (
            <TextArea
              {...props}
              rows={3}
              spellCheck={false}
              placeholder="ssh-ed25519 AAAA… user@laptop"
              value={value.sshKeys}
              onChange={(e) => onChange({ ...value, sshKeys: e.target.value })}
            />
          )}
        </Field>
        <Field
          label="User data"
          hint="Starts with #cloud-config, #! (a script) or another header cloud-init knows; up to 64 KiB"
        >
          {(props) => (
            <TextArea
              {...props}
              rows={8}
              spellCheck={false}
              placeholder={'#cloud-config\npackages:\n  - nginx'}
              value={value.userData}
              onChange={(e) => onChange({ ...value, userData: e.target.value })}
            />
          )}
        </Field>
      </div>
    </details>
  );
}
