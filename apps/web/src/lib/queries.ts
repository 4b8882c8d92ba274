'use client';

import type { Host, Operation, Vm } from '@novacron/api';
import { useQuery } from '@tanstack/react-query';
import { useApi } from './session';

/**
 * The shared reads of the pages. Keys: a single resource is `[kind, id]`, a list starts with the
 * plural (`['vms', filters]`), so the event hook can update both (lib/live-cache.ts).
 */

/** The most a summary reads in one request; beyond it the page says the counts are partial. */
export const SUMMARY_LIMIT = 1000;

export function useVm(id: string | undefined) {
  const api = useApi();
  return useQuery({
    queryKey: ['vm', id ?? ''],
    queryFn: () => api.vms.get(id ?? ''),
    enabled: id !== undefined && id !== '',
  });
}

export function useHost(id: string | undefined) {
  const api = useApi();
  return useQuery({
    queryKey: ['host', id ?? ''],
    queryFn: () => api.hosts.get(id ?? ''),
    enabled: id !== undefined && id !== '',
  });
}

export function useOperation(id: string | undefined) {
  const api = useApi();
  return useQuery({
    queryKey: ['operation', id ?? ''],
    queryFn: () => api.operations.get(id ?? ''),
    enabled: id !== undefined && id !== '',
  });
}

/** Every host (clusters have tens, not thousands): one page of up to SUMMARY_LIMIT. */
export function useAllHosts() {
  const api = useApi();
  return useQuery({
    queryKey: ['hosts', { all: true }],
    queryFn: () => api.hosts.list({ limit: SUMMARY_LIMIT }),
  });
}

/** VMs for summaries (counts by state, a host's VMs): one page of up to SUMMARY_LIMIT. */
export function useVmSummary(filters: { host?: string } = {}) {
  const api = useApi();
  return useQuery({
    queryKey: ['vms', { summary: true, ...filters }],
    queryFn: () => api.vms.list({ limit: SUMMARY_LIMIT, ...filters }),
  });
}

/** Operations pending or running, newest first. */
export function useActiveOperations(target?: string) {
  const api = useApi();
  return useQuery({
    queryKey: ['operations', { active: true, target: target ?? null }],
    queryFn: async (): Promise<{ items: Operation[]; nextCursor: null }> => {
      const filter = target === undefined ? {} : { target };
      const [running, pending] = await Promise.all([
        api.operations.list({ status: 'running', limit: 100, ...filter }),
        api.operations.list({ status: 'pending', limit: 100, ...filter }),
      ]);
      return { items: [...pending.items, ...running.items], nextCursor: null };
    },
  });
}

export function vmHref(vm: Pick<Vm, 'id'>): string {
  return `/vms/view?id=${encodeURIComponent(vm.id)}`;
}

export function hostHref(host: Pick<Host, 'id'> | string): string {
  return `/hosts/view?id=${encodeURIComponent(typeof host === 'string' ? host : host.id)}`;
}
