'use client';

import { useSearchParams } from 'next/navigation';
import { Suspense, type ComponentType } from 'react';
import { Spinner } from '../components/ui';

/** The `id` of a detail page's URL (`/vms/view?id=...`): pages are static, ids come at run time. */
export function useIdParam(): string | undefined {
  const id = useSearchParams().get('id');
  return id === null || id === '' ? undefined : id;
}

/** A page that reads its query string renders inside Suspense (a static export requires it). */
export function withSearchParams(Page: ComponentType): ComponentType {
  return function WithSearchParams() {
    return (
      <Suspense fallback={<Spinner label="Loading" />}>
        <Page />
      </Suspense>
    );
  };
}
