'use client';

import type { TotpEnrolment, TotpStatus } from '@novacron/api';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import {
  Badge,
  Button,
  Card,
  ErrorBox,
  Field,
  Input,
  PageHeader,
  Spinner,
} from '../../components/ui';
import { useApi, useSession } from '../../lib/session';

function useTotpStatus() {
  const api = useApi();
  return useQuery({ queryKey: ['totp'], queryFn: () => api.totpStatus() });
}

/** The codes of a fresh enrolment: shown once, kept by the user, never by the server. */
function RecoveryCodes({ codes }: { codes: string[] }) {
  const download = () => {
    const blob = new Blob([`${codes.join('\n')}\n`], { type: 'text/plain' });
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = 'novacron-recovery-codes.txt';
    link.click();
    URL.revokeObjectURL(url);
  };
  return (
    <div className="flex flex-col gap-2">
      <h3 className="text-sm font-semibold">Recovery codes</h3>
      <p className="text-sm text-muted">
        Each works once instead of a code from the app, should you lose it. Save them now: they are
        not shown again.
      </p>
      <ul
        aria-label="Recovery codes"
        className="grid grid-cols-2 gap-1 rounded-md bg-bg p-3 font-mono text-sm sm:grid-cols-3"
        data-testid="recovery-codes"
      >
        {codes.map((code) => (
          <li key={code}>{code}</li>
        ))}
      </ul>
      <div>
        <Button onClick={download}>Download as a file</Button>
      </div>
    </div>
  );
}

function Enrolment({
  enrolment,
  onVerified,
}: {
  enrolment: TotpEnrolment;
  onVerified: (status: TotpStatus) => void;
}) {
  const api = useApi();
  const [code, setCode] = useState('');
  const verify = useMutation({
    mutationFn: () => api.totpVerify(code.trim()),
    onSuccess: onVerified,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    verify.mutate();
  };
  return (
    <div className="flex flex-col gap-4">
      <div className="flex flex-col gap-4 sm:flex-row">
        <img
          src={enrolment.qrCode}
          alt="QR code of the new TOTP secret: scan it with an authenticator app"
          width={200}
          height={200}
          className="size-48 shrink-0 rounded-md bg-white p-2"
        />
        <div className="flex min-w-0 flex-col gap-2 text-sm">
          <p>
            1. Scan the code with an authenticator app (any TOTP app: 6 digits, every 30 s), or type
            the secret in:
          </p>
          <code className="rounded-md bg-bg p-2 break-all" data-testid="totp-secret">
            {enrolment.secret}
          </code>
          <p>2. Type the code the app shows to turn the second factor on.</p>
          <form className="flex flex-wrap items-end gap-2" onSubmit={submit}>
            <div className="w-40">
              <Field label="Code from the app">
                {(props) => (
                  <Input
                    {...props}
                    required
                    inputMode="numeric"
                    autoComplete="one-time-code"
                    pattern="[0-9]{6}"
                    maxLength={6}
                    value={code}
                    onChange={(e) => setCode(e.target.value)}
                  />
                )}
              </Field>
            </div>
            <Button type="submit" variant="primary" busy={verify.isPending}>
              Verify and turn on
            </Button>
          </form>
          <ErrorBox error={verify.error} title="The code was not accepted" />
        </div>
      </div>
      <RecoveryCodes codes={enrolment.recoveryCodes} />
    </div>
  );
}

function DisableForm({ onDone }: { onDone: (status: TotpStatus) => void }) {
  const api = useApi();
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);
  const disable = useMutation({
    mutationFn: () =>
      api.totpDisable(useRecovery ? { recoveryCode: code.trim() } : { code: code.trim() }),
    onSuccess: (status) => {
      setCode('');
      onDone(status);
    },
  });
  return (
    <form
      className="flex flex-col gap-2"
      onSubmit={(e) => {
        e.preventDefault();
        disable.mutate();
      }}
    >
      <h3 className="text-sm font-semibold">Turn the second factor off</h3>
      <p className="text-sm text-muted">It takes a current code, so a stolen session cannot.</p>
      <div className="flex flex-wrap items-end gap-2">
        <div className="w-56">
          <Field label={useRecovery ? 'Recovery code' : 'Current code from the app'}>
            {(props) => (
              <Input
                {...props}
                required
                autoComplete="one-time-code"
                value={code}
                onChange={(e) => setCode(e.target.value)}
              />
            )}
          </Field>
        </div>
        <Button type="submit" variant="danger" busy={disable.isPending}>
          Turn off
        </Button>
      </div>
      <label className="flex items-center gap-2 text-sm">
        <input
          type="checkbox"
          checked={useRecovery}
          onChange={(e) => setUseRecovery(e.target.checked)}
        />
        I lost the app: use a recovery code
      </label>
      <ErrorBox error={disable.error} title="The second factor stays on" />
    </form>
  );
}

function SecondFactor() {
  const api = useApi();
  const queries = useQueryClient();
  const status = useTotpStatus();
  const [enrolment, setEnrolment] = useState<TotpEnrolment | undefined>(undefined);
  // Recovery codes stay on screen after the verify, until the user says they are saved.
  const [savedCodes, setSavedCodes] = useState<string[] | undefined>(undefined);
  const enrol = useMutation({
    mutationFn: () => api.totpEnrol(),
    onSuccess: (fresh) => {
      setEnrolment(fresh);
      void queries.invalidateQueries({ queryKey: ['totp'] });
    },
  });
  const settle = (next: TotpStatus) => {
    queries.setQueryData(['totp'], next);
    setEnrolment(undefined);
  };

  if (status.error !== null) return <ErrorBox error={status.error} />;
  if (status.data === undefined) return <Spinner label="Loading" />;
  const current = status.data;
  const required = current.required || current.requiredForEveryone;
  return (
    <div className="flex flex-col gap-4" data-testid="totp" data-enabled={current.enabled}>
      <p className="flex flex-wrap items-center gap-2 text-sm">
        Second factor:{' '}
        {current.enabled ? (
          <Badge tone="ok">on</Badge>
        ) : current.pending ? (
          <Badge tone="warn">waiting for its first code</Badge>
        ) : (
          <Badge tone="muted">off</Badge>
        )}
        {required ? (
          <Badge tone="info">
            required {current.requiredForEveryone ? 'of everyone' : 'by an admin'}
          </Badge>
        ) : null}
        {current.enabled ? (
          <span className="text-muted" data-testid="recovery-left">
            {current.recoveryCodesLeft} recovery codes left
          </span>
        ) : null}
      </p>
      {enrolment !== undefined ? (
        <Enrolment
          enrolment={enrolment}
          onVerified={(next) => {
            setSavedCodes(enrolment.recoveryCodes);
            settle(next);
          }}
        />
      ) : savedCodes !== undefined ? (
        <div className="flex flex-col gap-3" role="status">
          <p className="text-sm">
            The second factor is on: the next login asks for a code from the app.
          </p>
          <RecoveryCodes codes={savedCodes} />
          <div>
            <Button variant="primary" onClick={() => setSavedCodes(undefined)}>
              I saved the recovery codes
            </Button>
          </div>
        </div>
      ) : current.enabled ? (
        <DisableForm onDone={settle} />
      ) : (
        <div className="flex flex-col gap-2">
          <p className="text-sm text-muted">
            {current.pending
              ? 'An enrolment was started and never verified; start again to get a new secret.'
              : 'With a second factor, a login asks for a code from an authenticator app on your phone as well as the password.'}
          </p>
          <div>
            <Button variant="primary" busy={enrol.isPending} onClick={() => enrol.mutate()}>
              {current.pending ? 'Start again' : 'Set up two-factor authentication'}
            </Button>
          </div>
        </div>
      )}
      <ErrorBox error={enrol.error} title="Enrolment refused" />
    </div>
  );
}

export default function SettingsPage() {
  const { session } = useSession();
  return (
    <>
      <PageHeader title="Settings" subtitle={`Signed in as ${session?.username ?? ''}`} />
      <div className="grid gap-4">
        <Card title="Two-factor authentication">
          <SecondFactor />
        </Card>
      </div>
    </>
  );
}
