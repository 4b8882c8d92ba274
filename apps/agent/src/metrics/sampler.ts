import { readFile, statfs } from 'node:fs/promises';
import { loadavg } from 'node:os';
import type {
  HostMetricsSample,
  VmDiskCounters,
  VmMetricsSample,
  VmNicCounters,
} from '@novacron/api';
import type { QemuInstance } from '@novacron/qemu';
import type { AgentMetricsRegistry } from '@novacron/telemetry';
import type { AgentLogger } from '../logger.js';
import {
  hostCpuPercent,
  parseHostCpuTimes,
  parseMeminfo,
  parseProcessCpuSeconds,
  parseProcessRssBytes,
  type HostCpuTimes,
} from './proc.js';

const MiB = 1024 * 1024;
const QMP_TIMEOUT_MS = 2_000;
export const NO_NIC_REASON = 'the VM has no NIC';
export const NO_NETWORK_REASON = 'the VM has no NIC: this host has no VM network';

/** The running VMs the sampler measures (VmManager.running()). */
export type RunningVms = () => { id: string; memoryMiB: number; qemu: QemuInstance }[];

export interface MetricsSnapshot {
  host: HostMetricsSample;
  vms: VmMetricsSample[];
}

/**
 * Measures the host and every running VM every `intervalMs`: CPU time and RSS of each QEMU
 * process from /proc, disk counters from QMP, host CPU/memory/load/disk. Keeps the latest
 * snapshot (for the heartbeat) and feeds the agent's Prometheus registry.
 */
export class MetricsSampler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private hostCpu: { times: HostCpuTimes } | undefined;
  /** Last CPU reading per VM, tied to its QEMU pid: a new process starts over. */
  private readonly vmCpu = new Map<string, { pid: number; seconds: number; atMs: number }>();
  private latestSnapshot: MetricsSnapshot | undefined;
  private readonly listeners = new Set<(snapshot: MetricsSnapshot) => void>();

  constructor(
    private readonly options: {
      intervalMs: number;
      vms: RunningVms;
      /** The filesystem to report used/free bytes of (the agent's data directory). */
      dataDir: string;
      registry: AgentMetricsRegistry;
      logger: AgentLogger;
      /** Where /proc is; tests point it at fixtures. */
      procDir?: string;
      /** NIC counters of a VM (from its tap device); absent when the host has no VM network. */
      nicCounters?: (vmId: string) => Promise<VmNicCounters | undefined>;
    },
  ) {}

  get latest(): MetricsSnapshot | undefined {
    return this.latestSnapshot;
  }

  onSample(listener: (snapshot: MetricsSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private tick(): void {
    this.running = this.sample()
      .then((snapshot) => {
        this.latestSnapshot = snapshot;
        for (const listener of this.listeners) listener(snapshot);
      })
      .catch((error: unknown) => {
        this.options.logger.warn({ error: String(error) }, 'metrics sample failed');
      })
      .finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.options.intervalMs);
      });
  }

  /** One measurement of the host and every running VM. */
  async sample(): Promise<MetricsSnapshot> {
    const running = this.options.vms();
    const [host, ...vms] = await Promise.all([
      this.sampleHost(),
      ...running.map((vm) => this.sampleVm(vm.id, vm.memoryMiB, vm.qemu)),
    ]);
    const { registry } = this.options;
    registry.recordHost(host);
    for (const vm of vms) registry.recordVm(vm);
    registry.keepVms(new Set(vms.map((vm) => vm.vmId)));
    for (const id of [...this.vmCpu.keys()]) {
      if (!running.some((vm) => vm.id === id)) this.vmCpu.delete(id);
    }
    return { host, vms };
  }

  private async sampleHost(): Promise<HostMetricsSample> {
    const proc = this.options.procDir ?? '/proc';
    const at = new Date().toISOString();
    const [stat, meminfo, fsStats] = await Promise.all([
      readText(`${proc}/stat`),
      readText(`${proc}/meminfo`),
      statfs(this.options.dataDir).catch(() => undefined),
    ]);
    const times = stat === undefined ? undefined : parseHostCpuTimes(stat);
    const cpuPercent =
      times && this.hostCpu ? hostCpuPercent(this.hostCpu.times, times) : undefined;
    this.hostCpu = times && { times };
    const memory = meminfo === undefined ? undefined : parseMeminfo(meminfo);
    const [load1 = 0, load5 = 0, load15 = 0] = loadavg();
    return {
      at,
      ...(cpuPercent !== undefined && { cpuPercent }),
      ...(memory && { memoryUsedBytes: memory.usedBytes, memoryTotalBytes: memory.totalBytes }),
      load1,
      load5,
      load15,
      ...(fsStats && {
        diskUsedBytes: (fsStats.blocks - fsStats.bfree) * fsStats.bsize,
        diskFreeBytes: fsStats.bavail * fsStats.bsize,
      }),
    };
  }

  private async sampleVm(
    id: string,
    memoryMiB: number,
    qemu: QemuInstance,
  ): Promise<VmMetricsSample> {
    const proc = this.options.procDir ?? '/proc';
    const atMs = Date.now();
    const [stat, status, disk, nic] = await Promise.all([
      readText(`${proc}/${qemu.pid}/stat`),
      readText(`${proc}/${qemu.pid}/status`),
      this.blockStats(id, qemu),
      this.options.nicCounters?.(id),
    ]);
    const cpuSeconds = stat === undefined ? undefined : parseProcessCpuSeconds(stat);
    const rssBytes = status === undefined ? undefined : parseProcessRssBytes(status);
    let cpuPercent: number | undefined;
    if (cpuSeconds !== undefined) {
      const before = this.vmCpu.get(id);
      if (before && before.pid === qemu.pid && atMs > before.atMs) {
        cpuPercent = Math.max(
          0,
          ((cpuSeconds - before.seconds) / ((atMs - before.atMs) / 1000)) * 100,
        );
      }
      this.vmCpu.set(id, { pid: qemu.pid, seconds: cpuSeconds, atMs });
    }
    return {
      vmId: id,
      at: new Date(atMs).toISOString(),
      ...(cpuSeconds !== undefined && { cpuSeconds }),
      ...(cpuPercent !== undefined && { cpuPercent }),
      ...(rssBytes !== undefined && { rssBytes }),
      memoryBytes: memoryMiB * MiB,
      ...(disk && { disk }),
      ...(nic
        ? { nic }
        : { nicAbsentReason: this.options.nicCounters ? NO_NIC_REASON : NO_NETWORK_REASON }),
    };
  }

  private async blockStats(id: string, qemu: QemuInstance): Promise<VmDiskCounters | undefined> {
    try {
      const devices = await (
        await qemu.qmp()
      ).execute('query-blockstats', undefined, { timeoutMs: QMP_TIMEOUT_MS });
      const total: VmDiskCounters = { readBytes: 0, writtenBytes: 0, readOps: 0, writeOps: 0 };
      for (const { stats } of devices) {
        total.readBytes += stats.rd_bytes;
        total.writtenBytes += stats.wr_bytes;
        total.readOps += stats.rd_operations;
        total.writeOps += stats.wr_operations;
      }
      return total;
    } catch (error) {
      this.options.logger.debug({ vmId: id, error: String(error) }, 'query-blockstats failed');
      return undefined;
    }
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
