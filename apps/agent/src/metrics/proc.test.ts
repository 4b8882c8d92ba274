import { describe, expect, it } from 'vitest';
import {
  hostCpuPercent,
  parseHostCpuTimes,
  parseMeminfo,
  parseProcessCpuSeconds,
  parseProcessRssBytes,
} from './proc.js';

// Captured from Linux 6.1 (a QEMU process, then the host).
const PID_STAT =
  '4242 (qemu-system-x86) S 1 4241 4241 0 -1 4194624 52031 0 2 0 1234 567 0 0 20 0 3 0 717172 ' +
  '1210064896 40123 18446744073709551615 1 1 0 0 0 0 0 4096 17642 0 0 0 17 1 0 0 0 0 0';
const PID_STATUS = [
  'Name:\tqemu-system-x86',
  'State:\tS (sleeping)',
  'VmPeak:\t 1235000 kB',
  'VmRSS:\t  160492 kB',
  'RssAnon:\t  120000 kB',
  '',
].join('\n');
const MEMINFO = [
  'MemTotal:        8148508 kB',
  'MemFree:          512000 kB',
  'MemAvailable:    6148508 kB',
  'Buffers:           10000 kB',
  '',
].join('\n');

describe('/proc parsers', () => {
  it('reads utime + stime of a process in seconds', () => {
    expect(parseProcessCpuSeconds(PID_STAT)).toBeCloseTo(18.01, 5);
  });

  it('finds the fields after a command name holding spaces and parentheses', () => {
    const odd = PID_STAT.replace('(qemu-system-x86)', '(a (b) c)');
    expect(parseProcessCpuSeconds(odd)).toBeCloseTo(18.01, 5);
  });

  it('gives nothing for a truncated or foreign stat line', () => {
    expect(parseProcessCpuSeconds('4242 (qemu) S 1 2 3')).toBeUndefined();
    expect(parseProcessCpuSeconds('')).toBeUndefined();
  });

  it('reads VmRSS in bytes, and nothing for a kernel thread without it', () => {
    expect(parseProcessRssBytes(PID_STATUS)).toBe(160492 * 1024);
    expect(parseProcessRssBytes('Name:\tkworker/0:1\nState:\tI (idle)\n')).toBeUndefined();
  });

  it('computes host CPU % from two /proc/stat readings', () => {
    const before = parseHostCpuTimes('cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n');
    const after = parseHostCpuTimes('cpu  400 0 200 1000 100 0 0 0 0 0\ncpu0 1 2 3 4\n');
    expect(before).toEqual({ busy: 200, total: 1000 });
    expect(after).toEqual({ busy: 600, total: 1700 });
    expect(hostCpuPercent(before!, after!)).toBeCloseTo((400 / 700) * 100, 5);
    expect(hostCpuPercent(after!, after!)).toBeUndefined();
    expect(parseHostCpuTimes('intr 1 2 3\n')).toBeUndefined();
  });

  it('reads used and total memory from /proc/meminfo', () => {
    expect(parseMeminfo(MEMINFO)).toEqual({
      usedBytes: (8148508 - 6148508) * 1024,
      totalBytes: 8148508 * 1024,
    });
    expect(parseMeminfo('MemTotal: 1 kB\n')).toBeUndefined();
  });
});
