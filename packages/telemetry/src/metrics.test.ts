import { describe, expect, it } from 'vitest';
import { AgentMetricsRegistry, METRIC_NAMES } from './metrics.js';

describe('AgentMetricsRegistry, NIC counters', () => {
  it('follows the tap totals of a VM and drops them when the VM has no NIC', async () => {
    const registry = new AgentMetricsRegistry('h');
    const nic = { rxBytes: 1000, txBytes: 500, rxPackets: 10, txPackets: 5 };
    registry.recordVm({ vmId: 'vm-1', memoryBytes: 1, nic });
    registry.recordVm({ vmId: 'vm-1', memoryBytes: 1, nic: { ...nic, rxBytes: 1500 } });
    let { body } = await registry.text();
    expect(body).toMatch(new RegExp(`^${METRIC_NAMES.vmNicRxBytes}\\{vm="vm-1"\\} 1500$`, 'm'));
    expect(body).toMatch(new RegExp(`^${METRIC_NAMES.vmNicTxPackets}\\{vm="vm-1"\\} 5$`, 'm'));
    // A new QEMU (a new tap) starts from zero: the counter resets rather than goes down.
    registry.recordVm({ vmId: 'vm-1', memoryBytes: 1, nic: { ...nic, rxBytes: 20 } });
    ({ body } = await registry.text());
    expect(body).toMatch(new RegExp(`^${METRIC_NAMES.vmNicRxBytes}\\{vm="vm-1"\\} 20$`, 'm'));
    registry.recordVm({ vmId: 'vm-1', memoryBytes: 1 });
    ({ body } = await registry.text());
    expect(body).not.toContain(`${METRIC_NAMES.vmNicRxBytes}{`);
  });
});
