'use client';

import { isNovaCronError, NovaCronApiError } from '@novacron/client';
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useRef, useState, type ReactNode } from 'react';
import { SessionProvider, useSession } from '../lib/session';
import { Shell } from './shell';

/** Queries fail fast on what a retry cannot fix (4xx); a refused token refreshes the session. */
function QueryProvider({ children }: { children: ReactNode }) {
  const { refresh } = useSession();
  const refreshRef = useRef(refresh);
  refreshRef.current = refresh;
  const [client] = useState(() => {
    const onError = (error: unknown) => {
      if (isNovaCronError(error) && error.code === 'UNAUTHENTICATED') {
        void refreshRef.current().then((ok) => {
          if (ok) void client.invalidateQueries();
        });
      }
    };
    const client: QueryClient = new QueryClient({
      queryCache: new QueryCache({ onError }),
      mutationCache: new MutationCache({ onError }),
      defaultOptions: {
        queries: {
          staleTime: 15_000,
          retry: (failures, error) =>
            failures < 2 && !(error instanceof NovaCronApiError && error.status < 500),
        },
      },
    });
    return client;
  });
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}

export function Providers({ children }: { children: ReactNode }) {
  return (
    <SessionProvider>
      <QueryProvider>
        <Shell>{children}</Shell>
      </QueryProvider>
    </SessionProvider>
  );
}
