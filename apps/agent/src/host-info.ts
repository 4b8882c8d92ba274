import { availableParallelism, totalmem } from 'node:os';
import type { AgentHostInfo } from '@novacron/api';
import type { AcceleratorVerdict } from '@novacron/qemu';

/** What this host offers, measured from the machine itself. */
export function measureHostInfo(
  name: string,
  verdict: AcceleratorVerdict,
  qemuVersion: string,
): AgentHostInfo {
  return {
    name,
    cpus: availableParallelism(),
    memoryMiB: Math.floor(totalmem() / (1024 * 1024)),
    accelerator: verdict.accelerator,
    acceleratorReason: verdict.reason,
    qemuVersion,
  };
}
