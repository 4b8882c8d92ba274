'use client';

import type { HostMetricsSample, VmMetricsSample } from '@novacron/api';
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { formatBytes, formatPercent } from '../lib/format';
import { mergeSeries, ratesOf } from '../lib/live-cache';
import { useLiveSamples } from '../lib/live';
import { useApi } from '../lib/session';
import { TimeChart } from './chart';
import { ErrorBox } from './ui';

const COLORS = { a: '#3b82f6', b: '#f59e0b', c: '#10b981', d: '#ef4444' };

const seconds = (samples: readonly { at: string }[]) =>
  samples.map((sample) => Date.parse(sample.at) / 1000);
const bytesPerSecond = (value: number) => `${formatBytes(value)}/s`;

/**
 * A VM's CPU, memory, disk and network over time: the kept window from the API, then every
 * `metrics.sample` event as it comes.
 */
export function VmMetricsCharts({ vmId }: { vmId: string }) {
  const api = useApi();
  const fetched = useQuery({
    queryKey: ['vm-metrics', vmId],
    queryFn: () => api.vms.metrics(vmId),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const live = useLiveSamples<VmMetricsSample>('vm', vmId);
  const samples = useMemo(
    () => mergeSeries(fetched.data?.samples ?? [], live),
    [fetched.data, live],
  );
  const times = useMemo(() => seconds(samples), [samples]);
  const charts = useMemo(() => {
    const disk = (pick: 'readBytes' | 'writtenBytes') =>
      ratesOf(samples, (s) => (s as VmMetricsSample).disk?.[pick]);
    const nic = (pick: 'rxBytes' | 'txBytes') =>
      ratesOf(samples, (s) => (s as VmMetricsSample).nic?.[pick]);
    return {
      cpu: [{ label: 'CPU', color: COLORS.a, values: samples.map((s) => s.cpuPercent ?? null) }],
      memory: [
        { label: 'QEMU resident', color: COLORS.a, values: samples.map((s) => s.rssBytes ?? null) },
        { label: 'Guest memory', color: COLORS.b, values: samples.map((s) => s.memoryBytes) },
      ],
      disk: [
        { label: 'Read', color: COLORS.c, values: disk('readBytes') },
        { label: 'Written', color: COLORS.d, values: disk('writtenBytes') },
      ],
      network: [
        { label: 'Received', color: COLORS.c, values: nic('rxBytes') },
        { label: 'Sent', color: COLORS.b, values: nic('txBytes') },
      ],
    };
  }, [samples]);
  const nicAbsent = samples.at(-1)?.nicAbsentReason;
  return (
    <div className="flex flex-col gap-3">
      <ErrorBox error={fetched.error} title="Metrics unavailable" />
      <div className="grid gap-4 md:grid-cols-2">
        <TimeChart
          title="CPU (% of one core)"
          times={times}
          series={charts.cpu}
          format={(v) => formatPercent(v)}
        />
        <TimeChart
          title="Memory"
          times={times}
          series={charts.memory}
          format={(v) => formatBytes(v, 0)}
        />
        <TimeChart title="Disk" times={times} series={charts.disk} format={bytesPerSecond} />
        <div>
          <TimeChart
            title="Network"
            times={times}
            series={charts.network}
            format={bytesPerSecond}
          />
          {nicAbsent === undefined ? null : <p className="text-xs text-muted">{nicAbsent}</p>}
        </div>
      </div>
    </div>
  );
}

/** A host's CPU, memory, load and disk over time, kept window then live samples. */
export function HostMetricsCharts({ hostId }: { hostId: string }) {
  const api = useApi();
  const fetched = useQuery({
    queryKey: ['host-metrics', hostId],
    queryFn: () => api.hosts.metrics(hostId),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const live = useLiveSamples<HostMetricsSample>('host', hostId);
  const samples = useMemo(
    () => mergeSeries(fetched.data?.samples ?? [], live),
    [fetched.data, live],
  );
  const times = useMemo(() => seconds(samples), [samples]);
  const charts = useMemo(
    () => ({
      cpu: [{ label: 'CPU', color: COLORS.a, values: samples.map((s) => s.cpuPercent ?? null) }],
      memory: [
        { label: 'Used', color: COLORS.a, values: samples.map((s) => s.memoryUsedBytes ?? null) },
        { label: 'Total', color: COLORS.b, values: samples.map((s) => s.memoryTotalBytes ?? null) },
      ],
      load: [
        { label: '1 min', color: COLORS.a, values: samples.map((s) => s.load1) },
        { label: '5 min', color: COLORS.b, values: samples.map((s) => s.load5) },
        { label: '15 min', color: COLORS.c, values: samples.map((s) => s.load15) },
      ],
      disk: [
        { label: 'Used', color: COLORS.d, values: samples.map((s) => s.diskUsedBytes ?? null) },
        { label: 'Free', color: COLORS.c, values: samples.map((s) => s.diskFreeBytes ?? null) },
      ],
    }),
    [samples],
  );
  return (
    <div className="flex flex-col gap-3">
      <ErrorBox error={fetched.error} title="Metrics unavailable" />
      <div className="grid gap-4 md:grid-cols-2">
        <TimeChart
          title="CPU (all cores)"
          times={times}
          series={charts.cpu}
          format={(v) => formatPercent(v)}
        />
        <TimeChart
          title="Memory"
          times={times}
          series={charts.memory}
          format={(v) => formatBytes(v, 0)}
        />
        <TimeChart
          title="Load average"
          times={times}
          series={charts.load}
          format={(v) => v.toFixed(2)}
        />
        <TimeChart
          title="Data disk"
          times={times}
          series={charts.disk}
          format={(v) => formatBytes(v, 0)}
        />
      </div>
    </div>
  );
}
