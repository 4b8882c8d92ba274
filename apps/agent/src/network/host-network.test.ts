import { describe, expect, it } from 'vitest';
import { startHostNetwork } from './host-network.js';

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
const settings = {
  vmNetwork: 'auto',
  bridge: 'novacronbr0',
  vmSubnet: '10.78.0.0/24',
  vmNat: 'off',
} as const;

describe('startHostNetwork', () => {
  it('does nothing when the network is off, and says why VMs get no NIC', async () => {
    const started = await startHostNetwork(
      { ...settings, vmNetwork: 'off' },
      '/nonexistent',
      silent,
    );
    expect(started.network).toBeUndefined();
    expect(started.info).toEqual({
      enabled: false,
      bridge: 'novacronbr0',
      nat: false,
      reason: expect.stringContaining('NOVACRON_VM_NETWORK=off') as string,
    });
  });

  it('refuses a bad subnet or bridge name in every mode, before touching the host', async () => {
    for (const vmNetwork of ['auto', 'on'] as const) {
      await expect(
        startHostNetwork({ ...settings, vmNetwork, vmSubnet: '10.78.0.1/24' }, '/x', silent),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      await expect(
        startHostNetwork(
          { ...settings, vmNetwork, bridge: 'a-bridge-name-too-long' },
          '/x',
          silent,
        ),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    }
  });
});
