import { availableParallelism, totalmem } from 'node:os';
import type { AgentHostInfo } from '@novacron/api';
import type { AcceleratorVerdict } from '@novacron/qemu';

/**
 * What this host offers, measured from the machine itself; `share` lowers it for several agents
 * on one machine (never raises it above what the machine has).
 */
export function measureHostInfo(
  name: string,
  verdict: AcceleratorVerdict,
  qemuVersion: string,
  share: { cpus?: number | undefined; memoryMiB?: number | undefined } = {},
): AgentHostInfo {
  const cpus = availableParallelism();
  const memoryMiB = Math.floor(totalmem() / (1024 * 1024));
  return {
    name,
    cpus: Math.min(cpus, share.cpus ?? cpus),
    memoryMiB: Math.min(memoryMiB, share.memoryMiB ?? memoryMiB),
    accelerator: verdict.accelerator,
    acceleratorReason: verdict.reason,
    qemuVersion,
  };
}
