'use client';

import { isNovaCronError, NovaCronApiError } from '@novacron/client';
import Link from 'next/link';
import {
  useId,
  type ButtonHTMLAttributes,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
} from 'react';

type Variant = 'primary' | 'secondary' | 'danger' | 'ghost';

const VARIANTS: Record<Variant, string> = {
  primary: 'bg-accent text-accent-fg hover:opacity-90 border-transparent',
  secondary: 'bg-card text-fg border-line hover:bg-bg',
  danger: 'bg-card text-bad border-bad/50 hover:bg-bad/10',
  ghost: 'bg-transparent text-fg border-transparent hover:bg-line/40',
};

export function Button({
  variant = 'secondary',
  className = '',
  busy = false,
  children,
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; busy?: boolean }) {
  return (
    <button
      type="button"
      {...props}
      disabled={props.disabled === true || busy}
      aria-busy={busy || undefined}
      className={`inline-flex items-center justify-center gap-1.5 rounded-md border px-3 py-1.5 text-sm font-medium whitespace-nowrap transition disabled:cursor-not-allowed disabled:opacity-50 ${VARIANTS[variant]} ${className}`}
    >
      {busy ? <Spinner /> : null}
      {children}
    </button>
  );
}

export function ButtonLink({
  href,
  variant = 'secondary',
  children,
}: {
  href: string;
  variant?: Variant;
  children: ReactNode;
}) {
  return (
    <Link
      href={href}
      className={`inline-flex items-center justify-center gap-1.5 rounded-md border px-3 py-1.5 text-sm font-medium whitespace-nowrap ${VARIANTS[variant]}`}
    >
      {children}
    </Link>
  );
}

export function Spinner({ label }: { label?: string }) {
  return (
    <span className="inline-flex items-center gap-2 text-muted">
      <span
        aria-hidden
        className="inline-block size-3.5 animate-spin rounded-full border-2 border-current border-t-transparent"
      />
      {label === undefined ? null : <span>{label}</span>}
    </span>
  );
}

export function Card({
  title,
  actions,
  children,
  className = '',
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section className={`min-w-0 rounded-lg border border-line bg-card p-4 ${className}`}>
      {title === undefined && actions === undefined ? null : (
        <header className="mb-3 flex flex-wrap items-center justify-between gap-2">
          {title === undefined ? <span /> : <h2 className="text-sm font-semibold">{title}</h2>}
          {actions}
        </header>
      )}
      {children}
    </section>
  );
}

export function PageHeader({
  title,
  subtitle,
  actions,
}: {
  title: ReactNode;
  subtitle?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
      <div className="min-w-0">
        <h1 className="truncate text-xl font-semibold">{title}</h1>
        {subtitle === undefined ? null : <p className="text-sm text-muted">{subtitle}</p>}
      </div>
      {actions === undefined ? null : <div className="flex flex-wrap gap-2">{actions}</div>}
    </div>
  );
}

const INPUT =
  'w-full rounded-md border border-line bg-bg px-2.5 py-1.5 text-sm text-fg placeholder:text-muted/70 disabled:opacity-60';

/** A labelled form field: the label names the control for screen readers; `hint` describes it. */
export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: ReactNode;
  error?: string | undefined;
  children: (props: {
    id: string;
    'aria-describedby'?: string;
    'aria-invalid'?: boolean;
  }) => ReactNode;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const described = hint !== undefined || error !== undefined;
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="text-sm font-medium">
        {label}
      </label>
      {children({
        id,
        ...(described ? { 'aria-describedby': hintId } : {}),
        ...(error === undefined ? {} : { 'aria-invalid': true }),
      })}
      {described ? (
        <p id={hintId} className={`text-xs ${error === undefined ? 'text-muted' : 'text-bad'}`}>
          {error ?? hint}
        </p>
      ) : null}
    </div>
  );
}

export function Input(props: InputHTMLAttributes<HTMLInputElement>) {
  return <input {...props} className={`${INPUT} ${props.className ?? ''}`} />;
}

export function Select(props: SelectHTMLAttributes<HTMLSelectElement>) {
  return <select {...props} className={`${INPUT} ${props.className ?? ''}`} />;
}

export function TextArea(props: TextareaHTMLAttributes<HTMLTextAreaElement>) {
  return <textarea {...props} className={`${INPUT} font-mono ${props.className ?? ''}`} />;
}

/** What went wrong, as the API said it: its message, its code, and the request id to quote. */
export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (error === null || error === undefined) return null;
  const message =
    error instanceof Error ? error.message : typeof error === 'string' ? error : 'unknown error';
  const code = isNovaCronError(error) ? error.code : undefined;
  const requestId = error instanceof NovaCronApiError ? error.requestId : undefined;
  return (
    <div
      role="alert"
      className="rounded-md border border-bad/40 bg-bad/10 px-3 py-2 text-sm text-fg"
    >
      <p className="font-medium text-bad">{title ?? 'The request failed'}</p>
      <p className="break-words">{message}</p>
      {code === undefined && requestId === undefined ? null : (
        <p className="mt-1 font-mono text-xs text-muted">
          {code}
          {requestId === undefined ? '' : ` · request ${requestId}`}
        </p>
      )}
    </div>
  );
}

/** An empty list: what it would hold, and what to do next. */
export function EmptyState({
  title,
  children,
  action,
}: {
  title: string;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <div className="flex flex-col items-center gap-2 rounded-md border border-dashed border-line px-4 py-8 text-center">
      <p className="font-medium">{title}</p>
      {children === undefined ? null : <div className="text-sm text-muted">{children}</div>}
      {action}
    </div>
  );
}

const TONES = {
  ok: 'bg-ok/15 text-ok',
  warn: 'bg-warn/15 text-warn',
  bad: 'bg-bad/15 text-bad',
  info: 'bg-info/15 text-info',
  muted: 'bg-line/60 text-muted',
} as const;
export type Tone = keyof typeof TONES;

const STATE_TONES: Record<string, Tone> = {
  running: 'ok',
  ready: 'ok',
  succeeded: 'ok',
  stopped: 'muted',
  cancelled: 'muted',
  disabled: 'muted',
  paused: 'warn',
  creating: 'info',
  starting: 'info',
  stopping: 'info',
  migrating: 'info',
  deleting: 'info',
  pending: 'info',
  unknown: 'warn',
  unreachable: 'bad',
  error: 'bad',
  failed: 'bad',
};

export function Badge({ tone = 'muted', children }: { tone?: Tone; children: ReactNode }) {
  return (
    <span
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap ${TONES[tone]}`}
    >
      {children}
    </span>
  );
}

/** A VM, host or operation state, coloured by what it means. */
export function StateBadge({ state }: { state: string }) {
  return (
    <Badge tone={STATE_TONES[state] ?? 'muted'}>
      <span data-state={state}>{state}</span>
    </Badge>
  );
}

export function ProgressBar({
  value,
  label,
  tone = 'info',
}: {
  value: number;
  label: string;
  tone?: Tone;
}) {
  const percent = Math.max(0, Math.min(100, value));
  const fill = {
    ok: 'bg-ok',
    warn: 'bg-warn',
    bad: 'bg-bad',
    info: 'bg-accent',
    muted: 'bg-muted',
  }[tone];
  return (
    <div
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(percent)}
      className="h-2 w-full overflow-hidden rounded-full bg-line/70"
    >
      <div className={`h-full ${fill} transition-[width]`} style={{ width: `${percent}%` }} />
    </div>
  );
}

export function Stat({
  label,
  value,
  detail,
}: {
  label: string;
  value: ReactNode;
  detail?: ReactNode;
}) {
  return (
    <div className="rounded-lg border border-line bg-card p-4">
      <p className="text-xs tracking-wide text-muted uppercase">{label}</p>
      <p className="mt-1 text-2xl font-semibold tabular-nums">{value}</p>
      {detail === undefined ? null : <div className="mt-1 text-xs text-muted">{detail}</div>}
    </div>
  );
}

/** A key-value list (a resource's properties). */
export function Properties({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="grid grid-cols-[minmax(7rem,auto)_1fr] gap-x-4 gap-y-1.5 text-sm">
      {items.map(([key, value]) => (
        <div key={key} className="contents">
          <dt className="text-muted">{key}</dt>
          <dd className="min-w-0 break-words">{value}</dd>
        </div>
      ))}
    </dl>
  );
}
