import { createHash } from 'node:crypto';
import { DomainError } from '@novacron/domain';

/** Linux interface names: at most 15 bytes (IFNAMSIZ - 1); only characters safe everywhere. */
export const INTERFACE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,14}$/;

/** The tap devices of VMs start with this; `ip -br link` shows which are NovaCron's. */
export const TAP_PREFIX = 'nct';

const VM_ID = /^[A-Za-z0-9_-]{1,64}$/;

function digest(vmId: string): Buffer {
  if (!VM_ID.test(vmId)) {
    throw new DomainError('VALIDATION_FAILED', 'a VM id is 1-64 letters, digits, _ or -', {
      id: vmId.slice(0, 80),
    });
  }
  return createHash('sha256').update(vmId).digest();
}

/** The VM's tap device: `nct` + 12 hex digits of SHA-256(id), 15 characters, stable per VM. */
export function tapNameOf(vmId: string): string {
  return `${TAP_PREFIX}${digest(vmId).subarray(0, 6).toString('hex')}`;
}

/**
 * The VM's MAC address: QEMU's locally administered prefix 52:54:00 and three bytes of
 * SHA-256(id), so the guest keeps its address (and its DHCP lease) across restarts and hosts.
 */
export function macAddressOf(vmId: string): string {
  const bytes = [0x52, 0x54, 0x00, ...digest(vmId).subarray(6, 9)];
  return bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}

/** A bridge subnet: the bridge takes the first address, DHCP hands out the rest. */
export interface SubnetPlan {
  /** e.g. 10.78.0.0/24 */
  cidr: string;
  prefixLength: number;
  netmask: string;
  /** The bridge's own address, e.g. 10.78.0.1. */
  hostAddress: string;
  dhcpStart: string;
  dhcpEnd: string;
}

/** Plans an IPv4 subnet from /16 to /29; refuses a host address in place of the network. */
export function planSubnet(cidr: string): SubnetPlan {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = match ? match.slice(1, 5).map(Number) : [];
  const prefixLength = Number(match?.[5]);
  const invalid = (why: string) =>
    new DomainError('VALIDATION_FAILED', `VM subnet '${cidr}': ${why}`, { subnet: cidr });
  if (!match || octets.some((octet) => octet > 255)) {
    throw invalid('want an IPv4 network such as 10.78.0.0/24');
  }
  if (prefixLength < 16 || prefixLength > 29) throw invalid('the prefix must be /16 to /29');
  const network = octets.reduce((value, octet) => value * 256 + octet, 0);
  const size = 2 ** (32 - prefixLength);
  if (network % size !== 0) throw invalid('host bits are set (name the network address)');
  return {
    cidr,
    prefixLength,
    netmask: toAddress(2 ** 32 - size),
    hostAddress: toAddress(network + 1),
    dhcpStart: toAddress(network + 2),
    dhcpEnd: toAddress(network + size - 2),
  };
}

function toAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
