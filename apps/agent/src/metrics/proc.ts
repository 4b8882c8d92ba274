/**
 * Parsers of the Linux /proc files the metrics sampler reads. Each returns undefined when the
 * text is not what the kernel writes, so a reading that fails is absent, never zero.
 */

/**
 * USER_HZ: the unit of /proc CPU times. Fixed at 100 by the kernel ABI on every architecture
 * Node runs on (x86, arm, ppc, s390, riscv), whatever CONFIG_HZ is.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time of a process (user + system, in seconds) from /proc/<pid>/stat. */
export function parseProcessCpuSeconds(stat: string): number | undefined {
  // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
  const end = stat.lastIndexOf(')');
  if (end < 0) return undefined;
  const fields = stat
    .slice(end + 1)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = integer(fields[11]);
  const stime = integer(fields[12]);
  if (utime === undefined || stime === undefined) return undefined;
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** Resident memory of a process in bytes, from the VmRSS line of /proc/<pid>/status. */
export function parseProcessRssBytes(status: string): number | undefined {
  const kib = kibField(status, 'VmRSS');
  return kib === undefined ? undefined : kib * 1024;
}

/** The aggregate `cpu` line of /proc/stat: busy and total time in ticks since boot. */
export interface HostCpuTimes {
  busy: number;
  total: number;
}

export function parseHostCpuTimes(stat: string): HostCpuTimes | undefined {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is already inside user/nice).
  const values = line.trim().split(/\s+/).slice(1, 9).map(integer);
  if (values.length < 4 || values.some((v) => v === undefined)) return undefined;
  const ticks = values as number[];
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU % of all cores between two readings of /proc/stat; undefined when no time passed. */
export function hostCpuPercent(before: HostCpuTimes, after: HostCpuTimes): number | undefined {
  const total = after.total - before.total;
  if (total <= 0) return undefined;
  return clamp(((after.busy - before.busy) / total) * 100, 0, 100);
}

/** Used and total memory in bytes from /proc/meminfo (used = total - available). */
export function parseMeminfo(
  meminfo: string,
): { usedBytes: number; totalBytes: number } | undefined {
  const total = kibField(meminfo, 'MemTotal');
  const available = kibField(meminfo, 'MemAvailable');
  if (total === undefined || available === undefined) return undefined;
  return { usedBytes: (total - available) * 1024, totalBytes: total * 1024 };
}

function kibField(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
  return match ? integer(match[1]) : undefined;
}

function integer(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text);
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
