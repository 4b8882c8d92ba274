import type { AgentVmSpec, VmHardware } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import { buildQemuArgs } from './command-line.js';
import { cpuDeviceType, memoryArg, smpArg } from './hardware-args.js';
import { vmFiles } from './vm-files.js';

const base: AgentVmSpec = {
  id: 'vm01',
  name: 'demo',
  cpus: 1,
  memoryMiB: 256,
  diskGiB: 1,
  image: { id: 'tiny', name: 'tiny', kind: 'kernel', sha256: 'x', defaultKernelArgs: 'quiet' },
  kernelArgs: '',
  machineType: 'pc-q35-7.2',
  desiredState: 'running',
};
const paths = { ...vmFiles('/data/vms/vm01'), kernel: '/img/vmlinuz', initrd: '/img/initrd.img' };
const hardware: VmHardware = {
  maxCpus: 4,
  maxMemoryMiB: 1024,
  hotCpus: 0,
  dimmsMiB: [],
  disks: [],
  nics: [],
};

function values(args: string[], flag: string): string[] {
  return args.flatMap((arg, index) => (arg === flag ? [args[index + 1] ?? ''] : []));
}

describe('hardware on the QEMU command line', () => {
  it('keeps the plain -smp and -m of a VM without headroom', () => {
    const args = buildQemuArgs(
      { ...base, cpus: 2, hardware: { ...hardware, maxCpus: 2, maxMemoryMiB: 256 } },
      paths,
      'tcg',
    );
    expect(values(args, '-smp')).toEqual(['2']);
    expect(values(args, '-m')).toEqual(['256M']);
    expect(values(args, '-object')).toEqual([]);
  });

  it('gives a VM with headroom one socket per possible CPU, and memory slots up to maxmem', () => {
    const args = buildQemuArgs({ ...base, cpus: 2, hardware }, paths, 'tcg');
    expect(values(args, '-smp')).toEqual(['2,sockets=4,cores=1,threads=1,maxcpus=4']);
    expect(values(args, '-m')).toEqual(['256M,slots=8,maxmem=1024M']);
  });

  it('starts live-added CPUs and DIMMs as devices, so a restart or migration target has them', () => {
    const spec = {
      ...base,
      cpus: 3,
      memoryMiB: 512,
      hardware: { ...hardware, hotCpus: 2, dimmsMiB: [128, 128] },
    };
    const args = buildQemuArgs(spec, paths, 'tcg');
    expect(values(args, '-smp')).toEqual(['1,sockets=4,cores=1,threads=1,maxcpus=4']);
    expect(values(args, '-m')).toEqual(['256M,slots=8,maxmem=1024M']);
    expect(values(args, '-device')).toEqual(
      expect.arrayContaining([
        'qemu64-x86_64-cpu,id=cpu1,socket-id=1,core-id=0,thread-id=0',
        'qemu64-x86_64-cpu,id=cpu2,socket-id=2,core-id=0,thread-id=0',
        'pc-dimm,id=dimm0,memdev=mem-dimm0',
        'pc-dimm,id=dimm1,memdev=mem-dimm1',
      ]),
    );
    expect(values(args, '-object')).toEqual([
      'memory-backend-ram,id=mem-dimm0,size=128M',
      'memory-backend-ram,id=mem-dimm1,size=128M',
    ]);
  });

  it('still has memory slots once the memory reached its maximum through DIMMs', () => {
    const spec = { ...base, memoryMiB: 1024, hardware: { ...hardware, dimmsMiB: [768] } };
    expect(memoryArg(spec)).toBe('256M,slots=8,maxmem=1024M');
    expect(smpArg({ ...base, cpus: 4, hardware: { ...hardware, hotCpus: 3 } })).toBe(
      '1,sockets=4,cores=1,threads=1,maxcpus=4',
    );
  });

  it('puts data disks and extra NICs on their hotplug ports', () => {
    const spec = {
      ...base,
      hardware: {
        ...hardware,
        disks: [{ name: 'disk1', sizeGiB: 2, slot: 1 }],
        nics: [{ name: 'net1', mac: '52:54:00:aa:bb:cc', slot: 0 }],
      },
    };
    const args = buildQemuArgs(spec, paths, 'tcg', {
      hardware: {
        dataDisks: { disk1: '/data/vms/vm01/disk1.qcow2' },
        nicTaps: { net1: 'nct0123' },
      },
    });
    expect(values(args, '-blockdev')).toContain(
      'driver=file,node-name=disk1-file,filename=/data/vms/vm01/disk1.qcow2',
    );
    expect(values(args, '-device')).toContain(
      'virtio-blk-pci,id=disk1-dev,drive=disk1,bus=hotplug1',
    );
    expect(values(args, '-netdev')).toContain('tap,id=net1,ifname=nct0123,script=no,downscript=no');
    expect(values(args, '-device')).toContain(
      'virtio-net-pci,id=net1-dev,netdev=net1,mac=52:54:00:aa:bb:cc,bus=hotplug0,romfile=',
    );
  });

  it('builds the same command line from the same spec (a migration target matches its source)', () => {
    const spec = {
      ...base,
      cpus: 2,
      memoryMiB: 384,
      hardware: {
        ...hardware,
        hotCpus: 1,
        dimmsMiB: [128],
        disks: [{ name: 'disk1', sizeGiB: 1, slot: 0 }],
      },
    };
    const options = { hardware: { dataDisks: { disk1: '/shared/vms/vm01/disk1.qcow2' } } };
    expect(buildQemuArgs(spec, paths, 'tcg', options)).toEqual(
      buildQemuArgs(spec, paths, 'tcg', options),
    );
  });

  it('refuses inconsistent hardware rather than pass it to QEMU', () => {
    const bad: Partial<VmHardware>[] = [
      { hotCpus: 1 },
      { maxCpus: 0 },
      { maxMemoryMiB: 128 },
      { dimmsMiB: [512] },
      {
        disks: [
          { name: 'disk1', sizeGiB: 1, slot: 0 },
          { name: 'disk2', sizeGiB: 1, slot: 0 },
        ],
      },
      { disks: [{ name: 'disk1,x', sizeGiB: 1, slot: 0 }] },
      { disks: [{ name: 'disk1', sizeGiB: 1, slot: 9 }] },
      { nics: [{ name: 'net1', mac: 'zz', slot: 0 }] },
    ];
    for (const change of bad) {
      expect(() =>
        buildQemuArgs({ ...base, hardware: { ...hardware, ...change } }, paths, 'tcg', {
          hardware: {
            dataDisks: { disk1: '/d1', disk2: '/d2', 'disk1,x': '/d' },
            nicTaps: { net1: 'nct1' },
          },
        }),
      ).toThrow(/invalid hardware/);
    }
    expect(() =>
      buildQemuArgs(
        { ...base, hardware: { ...hardware, disks: [{ name: 'disk1', sizeGiB: 1, slot: 0 }] } },
        paths,
        'tcg',
      ),
    ).toThrow(/no file for data disk/);
    expect(cpuDeviceType('host,-arch-capabilities')).toBe('host-x86_64-cpu');
    expect(() => cpuDeviceType('a b')).toThrow();
  });
});
