import { Counter, Gauge, Registry } from 'prom-client';

/** Prometheus metric names: the agent's `/metrics` and any dashboard built on it use these. */
export const METRIC_NAMES = {
  vmCpuSeconds: 'novacron_vm_cpu_seconds_total',
  vmCpuPercent: 'novacron_vm_cpu_percent',
  vmRssBytes: 'novacron_vm_rss_bytes',
  vmMemoryBytes: 'novacron_vm_memory_bytes',
  vmDiskReadBytes: 'novacron_vm_disk_read_bytes_total',
  vmDiskWrittenBytes: 'novacron_vm_disk_written_bytes_total',
  vmDiskReadOps: 'novacron_vm_disk_read_ops_total',
  vmDiskWriteOps: 'novacron_vm_disk_write_ops_total',
  vmNicRxBytes: 'novacron_vm_nic_rx_bytes_total',
  vmNicTxBytes: 'novacron_vm_nic_tx_bytes_total',
  vmNicRxPackets: 'novacron_vm_nic_rx_packets_total',
  vmNicTxPackets: 'novacron_vm_nic_tx_packets_total',
  hostCpuPercent: 'novacron_host_cpu_percent',
  hostMemoryUsedBytes: 'novacron_host_memory_used_bytes',
  hostMemoryTotalBytes: 'novacron_host_memory_total_bytes',
  hostLoad: 'novacron_host_load',
  hostDiskUsedBytes: 'novacron_host_disk_used_bytes',
  hostDiskFreeBytes: 'novacron_host_disk_free_bytes',
} as const;

/** What the registry takes of a VM sample (the shape of the api's VmMetricsSample). */
export interface VmMetricsInput {
  vmId: string;
  cpuSeconds?: number;
  cpuPercent?: number;
  rssBytes?: number;
  memoryBytes: number;
  disk?: { readBytes: number; writtenBytes: number; readOps: number; writeOps: number };
  nic?: { rxBytes: number; txBytes: number; rxPackets: number; txPackets: number };
}

/** What the registry takes of a host sample (the shape of the api's HostMetricsSample). */
export interface HostMetricsInput {
  cpuPercent?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  load1: number;
  load5: number;
  load15: number;
  diskUsedBytes?: number;
  diskFreeBytes?: number;
}

type VmCounterKey =
  | 'cpuSeconds'
  | 'readBytes'
  | 'writtenBytes'
  | 'readOps'
  | 'writeOps'
  | 'rxBytes'
  | 'txBytes'
  | 'rxPackets'
  | 'txPackets';

/**
 * One agent's Prometheus registry (never the global one: tests run several agents in a
 * process). Counters follow the QEMU process's own totals; a value that was not read is
 * removed rather than shown as zero.
 */
export class AgentMetricsRegistry {
  readonly registry = new Registry();
  private readonly counters: Record<VmCounterKey, Counter<'vm'>>;
  private readonly vmGauges: Record<'cpuPercent' | 'rssBytes' | 'memoryBytes', Gauge<'vm'>>;
  private readonly hostGauges: Record<
    'cpuPercent' | 'memoryUsedBytes' | 'memoryTotalBytes' | 'diskUsedBytes' | 'diskFreeBytes',
    Gauge<'host'>
  >;
  private readonly load: Gauge<'host' | 'window'>;
  /** Last totals per VM, so counters advance by the difference. */
  private readonly last = new Map<string, Partial<Record<VmCounterKey, number>>>();

  /** `hostName` labels the host metrics (a label-less gauge would show 0 when unread). */
  constructor(private readonly hostName: string) {
    const registers = [this.registry];
    const counter = (name: string, help: string) =>
      new Counter({ name, help, labelNames: ['vm'] as const, registers });
    const vmGauge = (name: string, help: string) =>
      new Gauge({ name, help, labelNames: ['vm'] as const, registers });
    const hostGauge = (name: string, help: string) =>
      new Gauge({ name, help, labelNames: ['host'] as const, registers });
    const n = METRIC_NAMES;
    this.counters = {
      cpuSeconds: counter(n.vmCpuSeconds, 'CPU time of the QEMU process (user + system)'),
      readBytes: counter(n.vmDiskReadBytes, 'Bytes read by the guest from its disks'),
      writtenBytes: counter(n.vmDiskWrittenBytes, 'Bytes written by the guest to its disks'),
      readOps: counter(n.vmDiskReadOps, 'Read operations of the guest on its disks'),
      writeOps: counter(n.vmDiskWriteOps, 'Write operations of the guest on its disks'),
      rxBytes: counter(n.vmNicRxBytes, 'Bytes the guest received on its NIC'),
      txBytes: counter(n.vmNicTxBytes, 'Bytes the guest sent on its NIC'),
      rxPackets: counter(n.vmNicRxPackets, 'Packets the guest received on its NIC'),
      txPackets: counter(n.vmNicTxPackets, 'Packets the guest sent on its NIC'),
    };
    this.vmGauges = {
      cpuPercent: vmGauge(
        n.vmCpuPercent,
        'CPU of the QEMU process over the last interval, % of one core',
      ),
      rssBytes: vmGauge(n.vmRssBytes, 'Resident memory of the QEMU process'),
      memoryBytes: vmGauge(n.vmMemoryBytes, 'Configured guest memory'),
    };
    this.hostGauges = {
      cpuPercent: hostGauge(
        n.hostCpuPercent,
        'Host CPU busy over the last interval, % of all cores',
      ),
      memoryUsedBytes: hostGauge(n.hostMemoryUsedBytes, 'Host memory in use (total - available)'),
      memoryTotalBytes: hostGauge(n.hostMemoryTotalBytes, 'Host memory'),
      diskUsedBytes: hostGauge(n.hostDiskUsedBytes, 'Used bytes of the data directory filesystem'),
      diskFreeBytes: hostGauge(n.hostDiskFreeBytes, 'Free bytes of the data directory filesystem'),
    };
    this.load = new Gauge({
      name: n.hostLoad,
      help: 'Host load average',
      labelNames: ['host', 'window'] as const,
      registers,
    });
  }

  recordVm(sample: VmMetricsInput): void {
    const labels = { vm: sample.vmId };
    const last = this.last.get(sample.vmId) ?? {};
    const totals: Partial<Record<VmCounterKey, number>> = {
      cpuSeconds: sample.cpuSeconds,
      ...(sample.disk && {
        readBytes: sample.disk.readBytes,
        writtenBytes: sample.disk.writtenBytes,
        readOps: sample.disk.readOps,
        writeOps: sample.disk.writeOps,
      }),
      ...(sample.nic && {
        rxBytes: sample.nic.rxBytes,
        txBytes: sample.nic.txBytes,
        rxPackets: sample.nic.rxPackets,
        txPackets: sample.nic.txPackets,
      }),
    };
    for (const key of Object.keys(this.counters) as VmCounterKey[]) {
      const value = totals[key];
      const counter = this.counters[key];
      if (value === undefined) {
        counter.remove(labels);
        delete last[key];
        continue;
      }
      const before = last[key];
      // A total that went down is a new QEMU process: the counter starts again (a reset).
      if (before === undefined || value < before) {
        counter.remove(labels);
        counter.inc(labels, value);
      } else if (value > before) {
        counter.inc(labels, value - before);
      }
      last[key] = value;
    }
    this.last.set(sample.vmId, last);
    for (const key of ['cpuPercent', 'rssBytes', 'memoryBytes'] as const) {
      const value = sample[key];
      if (value === undefined) this.vmGauges[key].remove(labels);
      else this.vmGauges[key].set(labels, value);
    }
  }

  /** Forgets the VMs not in `ids` (deleted or stopped). */
  keepVms(ids: ReadonlySet<string>): void {
    for (const vmId of [...this.last.keys()]) {
      if (ids.has(vmId)) continue;
      this.last.delete(vmId);
      for (const metric of [...Object.values(this.counters), ...Object.values(this.vmGauges)]) {
        metric.remove({ vm: vmId });
      }
    }
  }

  recordHost(sample: HostMetricsInput): void {
    const host = { host: this.hostName };
    for (const [key, gauge] of Object.entries(this.hostGauges)) {
      const value = sample[key as keyof typeof this.hostGauges];
      if (value === undefined) gauge.remove(host);
      else gauge.set(host, value);
    }
    this.load.set({ ...host, window: '1m' }, sample.load1);
    this.load.set({ ...host, window: '5m' }, sample.load5);
    this.load.set({ ...host, window: '15m' }, sample.load15);
  }

  /** The Prometheus text exposition. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
