import { Type, type Static } from 'typebox';
import { AgentVmStatus } from './agent.js';
import { VmHardware } from './hardware.js';

/**
 * Agent: `PUT /v1/vms/{id}/hardware` with the VM's spec as it should be. A running VM gets the
 * difference live (device_add, object-add, block_resize, device_del); a stopped one gets its disk
 * files created, grown or removed. The answer holds the hardware as applied (the CPUs and DIMMs
 * the host added live), which the server records.
 */
export const AgentHardwareReply = Type.Object({
  status: AgentVmStatus,
  /** Whether the changes were made to a running guest. */
  live: Type.Boolean(),
  hardware: VmHardware,
});
export type AgentHardwareReply = Static<typeof AgentHardwareReply>;
