import type { AgentVmSpec } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import { buildQemuArgs, kernelCommandLine } from './command-line.js';
import { vmFiles } from './vm-files.js';

const spec: AgentVmSpec = {
  id: 'vm01',
  name: 'demo',
  cpus: 2,
  memoryMiB: 256,
  diskGiB: 1,
  image: {
    id: 'tiny',
    name: 'tiny',
    kind: 'kernel',
    sha256: 'x',
    defaultKernelArgs: 'quiet',
  },
  kernelArgs: 'workload=dirty dirty_mib_s=8',
  machineType: 'pc-q35-7.2',
  desiredState: 'running',
};
const paths = {
  ...vmFiles('/data/agent/vms/vm01'),
  kernel: '/img/vmlinuz',
  initrd: '/img/initrd.img',
};

/** The value following each occurrence of `flag`. */
function values(args: string[], flag: string): string[] {
  return args.flatMap((arg, index) => (arg === flag ? [args[index + 1] ?? ''] : []));
}

describe('buildQemuArgs', () => {
  it('builds a headless versioned q35 machine with serial, QMP and VNC on unix sockets', () => {
    const args = buildQemuArgs(spec, paths, 'tcg');
    expect(values(args, '-machine')).toEqual(['pc-q35-7.2']);
    expect(values(args, '-accel')).toEqual(['tcg']);
    expect(values(args, '-cpu')).toEqual(['qemu64,-pni']);
    expect(values(args, '-m')).toEqual(['256M']);
    expect(values(args, '-smp')).toEqual(['2']);
    expect(args).toContain('-nodefaults');
    expect(args).toContain('-nographic');
    expect(values(args, '-name')).toEqual(['guest=vm01,debug-threads=on']);
    expect(values(args, '-pidfile')).toEqual(['/data/agent/vms/vm01/qemu.pid']);
    expect(values(args, '-chardev')).toEqual([
      'socket,id=qmp,path=/data/agent/vms/vm01/qmp.sock,server=on,wait=off',
      'socket,id=qmp-aux,path=/data/agent/vms/vm01/qmp-aux.sock,server=on,wait=off',
      'socket,id=serial0,path=/data/agent/vms/vm01/serial.sock,server=on,wait=off,logfile=/data/agent/vms/vm01/console.log,logappend=on',
    ]);
    expect(values(args, '-serial')).toEqual(['chardev:serial0']);
    expect(values(args, '-vnc')).toEqual(['unix:/data/agent/vms/vm01/vnc.sock']);
  });

  it('attaches the disk as file + qcow2 blockdev nodes behind virtio-blk-pci', () => {
    const args = buildQemuArgs(spec, paths, 'tcg');
    expect(values(args, '-blockdev')).toEqual([
      'driver=file,node-name=disk0-file,filename=/data/agent/vms/vm01/disk.qcow2',
      'driver=qcow2,node-name=disk0,file=disk0-file',
    ]);
    expect(values(args, '-device')).toContain(
      'virtio-blk-pci,id=disk0-dev,drive=disk0,bus=pcie.0,addr=0x3',
    );
    expect(
      values(args, '-device').filter((device) => device.startsWith('pcie-root-port')),
    ).toHaveLength(4);
  });

  it('boots the kernel directly with image args, the serial console, then the VM args', () => {
    const args = buildQemuArgs(spec, paths, 'tcg');
    expect(values(args, '-kernel')).toEqual(['/img/vmlinuz']);
    expect(values(args, '-initrd')).toEqual(['/img/initrd.img']);
    expect(values(args, '-append')).toEqual(['quiet console=ttyS0 workload=dirty dirty_mib_s=8']);
    expect(kernelCommandLine({ ...spec, kernelArgs: '' })).toBe('quiet console=ttyS0');
  });

  it('uses host,-arch-capabilities under KVM unless the cluster sets a CPU model', () => {
    expect(values(buildQemuArgs(spec, paths, 'kvm'), '-cpu')).toEqual(['host,-arch-capabilities']);
    expect(values(buildQemuArgs(spec, paths, 'kvm', { cpuModel: 'Haswell' }), '-cpu')).toEqual([
      'Haswell',
    ]);
  });

  it('boots disk images from the disk instead of a kernel', () => {
    const args = buildQemuArgs(
      { ...spec, image: { ...spec.image, kind: 'disk' } },
      vmFiles('/d'),
      'tcg',
    );
    expect(args).not.toContain('-kernel');
    expect(values(args, '-device')).toContain(
      'virtio-blk-pci,id=disk0-dev,drive=disk0,bus=pcie.0,addr=0x3,bootindex=1',
    );
  });

  it('adds a virtio-net NIC on the given tap device only when asked, without vhost or scripts', () => {
    expect(values(buildQemuArgs(spec, paths, 'tcg'), '-netdev')).toEqual([]);
    const nic = { tap: 'nct0123456789ab', mac: '52:54:00:12:ab:ef' };
    const args = buildQemuArgs(spec, paths, 'tcg', { nic });
    expect(values(args, '-netdev')).toEqual([
      'tap,id=net0,ifname=nct0123456789ab,script=no,downscript=no',
    ]);
    expect(values(args, '-device')).toContain(
      'virtio-net-pci,id=net0-dev,netdev=net0,mac=52:54:00:12:ab:ef,bus=pcie.0,addr=0x4,romfile=',
    );
    for (const bad of [
      { tap: 'tap0,script=/x', mac: nic.mac },
      { tap: 'a-name-longer-than-15', mac: nic.mac },
      { tap: nic.tap, mac: '52:54:00:12:ab:ef,vhost=on' },
    ]) {
      expect(() => buildQemuArgs(spec, paths, 'tcg', { nic: bad })).toThrow(
        expect.objectContaining({ code: 'VALIDATION_FAILED' }),
      );
    }
  });

  it('escapes commas in paths inside QEMU option strings', () => {
    const args = buildQemuArgs(spec, { ...paths, ...vmFiles('/data,x=1/vm01') }, 'tcg');
    expect(values(args, '-blockdev')[0]).toBe(
      'driver=file,node-name=disk0-file,filename=/data,,x=1/vm01/disk.qcow2',
    );
  });

  it('refuses values that would smuggle options into QEMU', () => {
    const bad: Partial<AgentVmSpec>[] = [
      { machineType: 'pc-q35-7.2,accel=kvm' },
      { machineType: 'pc-i440fx-7.2' },
      { kernelArgs: 'init=/bin/sh"; reboot' },
      { id: '../etc' },
      { memoryMiB: 8 },
      { cpus: 0 },
    ];
    for (const override of bad) {
      expect(() => buildQemuArgs({ ...spec, ...override }, paths, 'tcg')).toThrow(
        expect.objectContaining({ code: 'VALIDATION_FAILED' }),
      );
    }
    expect(() => buildQemuArgs(spec, paths, 'tcg', { cpuModel: 'qemu64 -S' })).toThrow();
    expect(() => buildQemuArgs(spec, vmFiles('/x'), 'tcg')).toThrow(/kernel and initrd/);
  });
});
