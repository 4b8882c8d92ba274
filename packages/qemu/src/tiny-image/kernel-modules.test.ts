import { describe, expect, it } from 'vitest';
import {
  moduleLoadOrder,
  moduleName,
  readModuleDepends,
  type KernelModule,
} from './kernel-modules.js';

function modules(spec: Record<string, string[]>): Map<string, KernelModule> {
  return new Map(
    Object.entries(spec).map(([name, depends]) => [name, { name, path: `/m/${name}.ko`, depends }]),
  );
}

describe('kernel modules', () => {
  it('reads depends= from the .modinfo strings', () => {
    const ko = Buffer.from(
      '\x7fELF....\0license=GPL\0depends=virtio_ring,virtio-pci-legacy-dev\0name=x\0',
    );
    expect(readModuleDepends(ko)).toEqual(['virtio_ring', 'virtio_pci_legacy_dev']);
    expect(readModuleDepends(Buffer.from('\0depends=\0'))).toEqual([]);
    expect(moduleName('virtio-rng.ko.xz')).toBe('virtio_rng');
  });

  it('orders dependencies first and keeps the asked order otherwise', () => {
    const available = modules({
      virtio_ring: [],
      virtio: ['virtio_ring'],
      virtio_pci_modern_dev: [],
      virtio_pci_legacy_dev: [],
      virtio_pci: ['virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio'],
      virtio_blk: ['virtio', 'virtio_ring'],
      failover: [],
      net_failover: ['failover'],
      virtio_net: ['virtio_ring', 'virtio', 'net_failover'],
      button: [],
    });
    const order = moduleLoadOrder(
      ['virtio_pci', 'virtio_blk', 'virtio_net', 'button'],
      available,
      new Set(),
    );
    expect(order.map((module) => module.name)).toEqual([
      'virtio_ring',
      'virtio_pci_modern_dev',
      'virtio_pci_legacy_dev',
      'virtio',
      'virtio_pci',
      'virtio_blk',
      'failover',
      'net_failover',
      'virtio_net',
      'button',
    ]);
  });

  it('skips built-in modules and names a missing one', () => {
    const available = modules({ virtio_blk: ['virtio'] });
    expect(
      moduleLoadOrder(['virtio_blk'], available, new Set(['virtio'])).map((m) => m.name),
    ).toEqual(['virtio_blk']);
    expect(() => moduleLoadOrder(['virtio_blk'], available, new Set())).toThrow(
      'kernel module virtio (needed by virtio_blk) is neither built in nor in the package',
    );
  });
});
