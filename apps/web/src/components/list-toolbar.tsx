'use client';

import type { ReactNode } from 'react';
import { Button, ErrorBox, Field, Input } from './ui';

/** The search box above a table: it filters the rows already loaded. */
export function SearchField({
  label,
  value,
  onChange,
  placeholder,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
}) {
  return (
    <Field label={label}>
      {(props) => (
        <Input
          {...props}
          type="search"
          {...(placeholder === undefined ? {} : { placeholder })}
          value={value}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
    </Field>
  );
}

/** A search box on the left and the list's primary action (a button) on the right. */
export function ListToolbar({
  searchLabel,
  search,
  onSearch,
  actionLabel,
  onAction,
}: {
  searchLabel: string;
  search: string;
  onSearch: (value: string) => void;
  actionLabel: ReactNode;
  onAction: () => void;
}) {
  return (
    <div className="flex flex-wrap items-end justify-between gap-3">
      <div className="w-full max-w-xs">
        <SearchField label={searchLabel} value={search} onChange={onSearch} />
      </div>
      <Button variant="primary" onClick={onAction}>
        {actionLabel}
      </Button>
    </div>
  );
}

/** A refresh that failed while the table still shows the rows loaded before. */
export function StaleListError({
  error,
  shown,
  title,
}: {
  error: unknown;
  shown: boolean;
  title: string;
}) {
  if (error === null || error === undefined || !shown) return null;
  return (
    <div className="mt-3">
      <ErrorBox error={error} title={title} />
    </div>
  );
}
