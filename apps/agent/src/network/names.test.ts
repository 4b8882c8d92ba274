import { describe, expect, it } from 'vitest';
import { INTERFACE_NAME, macAddressOf, planSubnet, tapNameOf } from './names.js';

describe('tap names and MAC addresses', () => {
  it('are stable per VM, distinct between VMs, and fit Linux and QEMU', () => {
    const ids = ['vm01', 'vm02', '01JD0Z8ZP7M4Q3V2W1X0Y9Z8A7', 'a'.repeat(64)];
    for (const id of ids) {
      expect(tapNameOf(id)).toBe(tapNameOf(id));
      expect(tapNameOf(id)).toMatch(/^nct[0-9a-f]{12}$/);
      expect(INTERFACE_NAME.test(tapNameOf(id))).toBe(true);
      // 52:54:00 is QEMU's prefix; 0x52 has the locally administered bit set and is unicast.
      expect(macAddressOf(id)).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    }
    expect(new Set(ids.map(tapNameOf)).size).toBe(ids.length);
    expect(new Set(ids.map(macAddressOf)).size).toBe(ids.length);
  });

  it('refuse ids that are not VM ids', () => {
    for (const bad of ['', '../x', 'a b', 'a'.repeat(65)]) {
      expect(() => tapNameOf(bad)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
  });
});

describe('planSubnet', () => {
  it('gives the bridge the first address and DHCP the rest', () => {
    expect(planSubnet('10.78.0.0/24')).toEqual({
      cidr: '10.78.0.0/24',
      prefixLength: 24,
      netmask: '255.255.255.0',
      hostAddress: '10.78.0.1',
      dhcpStart: '10.78.0.2',
      dhcpEnd: '10.78.0.254',
    });
    expect(planSubnet('172.20.0.0/16')).toMatchObject({
      netmask: '255.255.0.0',
      dhcpEnd: '172.20.255.254',
    });
    expect(planSubnet('192.168.5.16/28')).toMatchObject({
      hostAddress: '192.168.5.17',
      dhcpStart: '192.168.5.18',
      dhcpEnd: '192.168.5.30',
    });
  });

  it('refuses what is not an IPv4 network of /16 to /29', () => {
    for (const bad of [
      '10.78.0.1/24',
      '10.78.0.0/8',
      '10.78.0.0/30',
      '300.1.1.0/24',
      '10.78.0.0',
    ]) {
      expect(() => planSubnet(bad)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
  });
});
