'use client';

import type { TotpEnrolment } from '@novacron/api';
import { isNovaCronError } from '@novacron/client';
import { useRouter } from 'next/navigation';
import { useEffect, useState, type FormEvent } from 'react';
import { Button, ErrorBox, Field, Input } from '../../components/ui';
import { useSession } from '../../lib/session';

type Step =
  { kind: 'password' } | { kind: 'second-factor'; challenge: string; enrolment?: TotpEnrolment };

/** Where to go after the login: a path of this site only (`?next=/vms`), else the overview. */
function nextPath(): string {
  const next = new URLSearchParams(window.location.search).get('next');
  return next !== null && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export default function LoginPage() {
  const { client, session, ready, endedReason, signedIn } = useSession();
  const router = useRouter();
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);
  const [step, setStep] = useState<Step>({ kind: 'password' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    if (ready && session !== undefined) router.replace(nextPath());
  }, [ready, session, router]);

  const submitPassword = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      signedIn(username, await client.login(username, password));
    } catch (failure) {
      if (isNovaCronError(failure) && failure.code === 'SECOND_FACTOR_REQUIRED') {
        const challenge =
          typeof failure.details.challenge === 'string' ? failure.details.challenge : '';
        if (failure.details.enrol === true) {
          try {
            setStep({
              kind: 'second-factor',
              challenge,
              enrolment: await client.loginTotpEnrol(challenge),
            });
          } catch (enrolFailure) {
            setError(enrolFailure);
          }
        } else {
          setStep({ kind: 'second-factor', challenge });
        }
      } else {
        setError(failure);
      }
    } finally {
      setBusy(false);
    }
  };

  const submitCode = async (event: FormEvent) => {
    event.preventDefault();
    if (step.kind !== 'second-factor') return;
    setBusy(true);
    setError(undefined);
    try {
      const proof = useRecovery ? { recoveryCode: code.trim() } : { code: code.trim() };
      signedIn(username, await client.loginSecondFactor(step.challenge, proof));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <div className="w-full max-w-sm rounded-lg border border-line bg-card p-6 shadow-sm">
        <h1 className="mb-1 text-xl font-semibold">NovaCron</h1>
        <p className="mb-5 text-sm text-muted">Sign in to manage your virtual machines.</p>
        {endedReason === undefined ? null : (
          <p role="status" className="mb-4 text-sm text-warn">
            {endedReason}
          </p>
        )}
        {step.kind === 'password' ? (
          <form onSubmit={(event) => void submitPassword(event)} className="flex flex-col gap-4">
            <Field label="Username">
              {(props) => (
                <Input
                  {...props}
                  name="username"
                  autoComplete="username"
                  required
                  value={username}
                  onChange={(e) => setUsername(e.target.value)}
                />
              )}
            </Field>
            <Field label="Password">
              {(props) => (
                <Input
                  {...props}
                  name="password"
                  type="password"
                  autoComplete="current-password"
                  required
                  autoFocus
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                />
              )}
            </Field>
            <ErrorBox error={error} title="Login failed" />
            <Button type="submit" variant="primary" busy={busy}>
              Log in
            </Button>
          </form>
        ) : (
          <form onSubmit={(event) => void submitCode(event)} className="flex flex-col gap-4">
            {step.enrolment === undefined ? (
              <p className="text-sm">
                Enter the code your authenticator app shows for NovaCron ({username}).
              </p>
            ) : (
              <div className="flex flex-col gap-2 text-sm">
                <p>
                  This account must use a second factor. Scan the code with an authenticator app, or
                  type the secret, then enter the code it shows.
                </p>
                <img
                  src={step.enrolment.qrCode}
                  alt="QR code of the authenticator secret"
                  className="mx-auto size-40 rounded bg-white p-2"
                />
                <code className="block rounded bg-bg p-2 text-center font-mono break-all">
                  {step.enrolment.secret}
                </code>
                <p className="text-muted">Recovery codes (keep them; shown once):</p>
                <code className="block rounded bg-bg p-2 font-mono text-xs">
                  {step.enrolment.recoveryCodes.join('  ')}
                </code>
              </div>
            )}
            <Field
              label={useRecovery ? 'Recovery code' : 'Authentication code'}
              hint={useRecovery ? 'One of the codes you kept at enrolment' : '6 digits'}
            >
              {(props) => (
                <Input
                  {...props}
                  name="code"
                  autoComplete="one-time-code"
                  inputMode={useRecovery ? 'text' : 'numeric'}
                  pattern={useRecovery ? undefined : '[0-9]{6}'}
                  required
                  autoFocus
                  value={code}
                  onChange={(e) => setCode(e.target.value)}
                />
              )}
            </Field>
            <ErrorBox error={error} title="Login failed" />
            <Button type="submit" variant="primary" busy={busy}>
              Verify
            </Button>
            <div className="flex justify-between text-sm">
              {step.enrolment === undefined ? (
                <button
                  type="button"
                  className="text-accent underline"
                  onClick={() => setUseRecovery(!useRecovery)}
                >
                  {useRecovery ? 'Use an authenticator code' : 'Use a recovery code'}
                </button>
              ) : (
                <span />
              )}
              <button
                type="button"
                className="text-accent underline"
                onClick={() => {
                  setStep({ kind: 'password' });
                  setCode('');
                  setError(undefined);
                }}
              >
                Back
              </button>
            </div>
          </form>
        )}
      </div>
    </main>
  );
}
