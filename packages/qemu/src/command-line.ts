import {
  KERNEL_ARGS_PATTERN,
  MAX_VM_CPUS,
  MAX_VM_MEMORY_MIB,
  type Accelerator,
  type AgentVmSpec,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { hardwareDeviceArgs, memoryArg, smpArg, type HardwarePaths } from './hardware-args.js';
import type { VmFiles } from './vm-files.js';

/** The VM's files plus, for `kernel` images, the kernel and initramfs to boot directly. */
export interface QemuPaths extends VmFiles {
  kernel?: string;
  initrd?: string;
  /** The cloud-init NoCloud seed ISO, attached read-only as a CD-ROM. */
  cloudInitSeed?: string;
}

export interface BuildQemuArgsOptions {
  /** A cluster setting (migration needs the same model on every host); default per accelerator. */
  cpuModel?: string;
  /** Empty PCIe root ports created for later hotplug (default 4). */
  hotplugPorts?: number;
  /** One virtio-net NIC on a tap device the agent created and attached to its bridge. */
  nic?: QemuNic;
  /** Files of data disks and taps of extra NICs the spec's hardware names (ADR 23). */
  hardware?: HardwarePaths;
}

/** A NIC backed by an existing tap device (QEMU runs no scripts: `-sandbox spawn=deny`). */
export interface QemuNic {
  /** The tap interface name (at most 15 characters). */
  tap: string;
  /** The guest's MAC address, `xx:xx:xx:xx:xx:xx` in lower case. */
  mac: string;
}

/**
 * CPU model per accelerator: plain `qemu64` warns about `pni` under TCG, and `host` aborts on
 * nested KVM ("failed to set MSR") unless `-arch-capabilities` is removed.
 */
export const DEFAULT_CPU_MODEL: Record<Accelerator, string> = {
  tcg: 'qemu64,-pni',
  kvm: 'host,-arch-capabilities',
};

const MACHINE_TYPE = /^pc-q35-\d+\.\d+$/;
const VM_ID = /^[A-Za-z0-9_-]{1,64}$/;
const CPU_MODEL = /^[A-Za-z0-9_.+=-]+(,[A-Za-z0-9_.+=-]+)*$/;
const KERNEL_ARGS = new RegExp(KERNEL_ARGS_PATTERN);
const TAP_NAME = /^[A-Za-z0-9_-]{1,15}$/;
const MAC_ADDRESS = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * The QEMU argument array of one VM (never a shell string): a versioned q35 machine, headless
 * with the serial port on a unix socket that QEMU also logs to `console.log`, QMP on two unix
 * sockets, VNC on a unix socket, the disk as `-blockdev` file + qcow2 nodes behind a
 * virtio-blk-pci device, an optional virtio-net NIC on a tap device, direct kernel boot for
 * `kernel` images, a few empty PCIe root ports.
 * Pure: it validates what it embeds and throws VALIDATION_FAILED rather than pass it to QEMU.
 */
export function buildQemuArgs(
  spec: AgentVmSpec,
  paths: QemuPaths,
  accelerator: Accelerator,
  options: BuildQemuArgsOptions = {},
): string[] {
  const cpuModel = options.cpuModel ?? DEFAULT_CPU_MODEL[accelerator];
  const hotplugPorts = options.hotplugPorts ?? 4;
  check(VM_ID.test(spec.id), 'id', spec.id);
  check(MACHINE_TYPE.test(spec.machineType), 'machineType (want pc-q35-X.Y)', spec.machineType);
  check(CPU_MODEL.test(cpuModel), 'cpuModel', cpuModel);
  check(isIntegerIn(spec.cpus, 1, MAX_VM_CPUS), 'cpus', spec.cpus);
  check(isIntegerIn(spec.memoryMiB, 16, MAX_VM_MEMORY_MIB), 'memoryMiB', spec.memoryMiB);
  check(isIntegerIn(hotplugPorts, 0, 16), 'hotplugPorts', hotplugPorts);
  if (options.nic) {
    check(TAP_NAME.test(options.nic.tap), 'nic.tap', options.nic.tap);
    check(MAC_ADDRESS.test(options.nic.mac), 'nic.mac', options.nic.mac);
  }

  const args = [
    '-name',
    `guest=${spec.id},debug-threads=on`,
    '-machine',
    spec.machineType,
    '-accel',
    accelerator,
    '-cpu',
    cpuModel,
    '-m',
    memoryArg(spec),
    '-smp',
    smpArg(spec),
    // No default devices (no NIC ROM, no default serial or monitor); -nographic is still needed
    // for SeaBIOS to print on the serial port. Allowed together with our own chardevs.
    '-nodefaults',
    '-nographic',
    '-no-user-config',
    '-msg',
    'timestamp=on',
    '-sandbox',
    'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    '-pidfile',
    paths.pidFile,
    ...monitor('qmp', paths.qmpSocket),
    ...monitor('qmp-aux', paths.qmpAuxSocket),
    '-chardev',
    `socket,id=serial0,path=${opt(paths.serialSocket)},server=on,wait=off,logfile=${opt(paths.consoleLog)},logappend=on`,
    '-serial',
    'chardev:serial0',
    '-device',
    'VGA,id=video0,bus=pcie.0,addr=0x1',
    '-vnc',
    `unix:${opt(paths.vncSocket)}`,
  ];

  for (let port = 0; port < hotplugPorts; port += 1) {
    const multifunction = port === 0 && hotplugPorts > 1 ? ',multifunction=on' : '';
    args.push(
      '-device',
      `pcie-root-port,id=hotplug${port},bus=pcie.0,chassis=${port + 1},port=0x${(0x10 + port).toString(16)},addr=0x2.0x${port.toString(16)}${multifunction}`,
    );
  }

  args.push(
    '-blockdev',
    `driver=file,node-name=disk0-file,filename=${opt(paths.disk)}`,
    '-blockdev',
    'driver=qcow2,node-name=disk0,file=disk0-file',
    '-device',
    `virtio-blk-pci,id=disk0-dev,drive=disk0,bus=pcie.0,addr=0x3${spec.image.kind === 'disk' ? ',bootindex=1' : ''}`,
  );

  if (options.nic) {
    // No vhost: there is no /dev/vhost-net on the hosts this runs on. No option ROM: nothing
    // boots from the network, and SeaBIOS would run iPXE's ROM at every start (slow under TCG).
    args.push(
      '-netdev',
      `tap,id=net0,ifname=${options.nic.tap},script=no,downscript=no`,
      '-device',
      `virtio-net-pci,id=net0-dev,netdev=net0,mac=${options.nic.mac},bus=pcie.0,addr=0x4,romfile=`,
    );
  }

  if (paths.cloudInitSeed !== undefined) args.push(...cloudInitCdrom(paths.cloudInitSeed));

  // CPUs and DIMMs added live, data disks and extra NICs: the same machine on every start.
  args.push(...hardwareDeviceArgs(spec, cpuModel, options.hardware ?? {}, opt));

  if (spec.image.kind === 'kernel') {
    if (!paths.kernel || !paths.initrd) {
      throw new DomainError(
        'VALIDATION_FAILED',
        'a kernel image needs its kernel and initrd paths',
        {
          image: spec.image.id,
        },
      );
    }
    args.push('-kernel', paths.kernel, '-initrd', paths.initrd, '-append', kernelCommandLine(spec));
  }
  return args;
}

/** The image's default arguments, the serial console, then the VM's own (last one wins). */
export function kernelCommandLine(spec: Pick<AgentVmSpec, 'image' | 'kernelArgs'>): string {
  check(
    KERNEL_ARGS.test(spec.image.defaultKernelArgs),
    'image.defaultKernelArgs',
    spec.image.defaultKernelArgs,
  );
  check(KERNEL_ARGS.test(spec.kernelArgs), 'kernelArgs', spec.kernelArgs);
  return [spec.image.defaultKernelArgs, 'console=ttyS0', spec.kernelArgs]
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .join(' ');
}

/**
 * The seed on a SCSI CD-ROM behind its own virtio-scsi controller: Debian's cloud kernels have no
 * AHCI driver (q35's built-in IDE/SATA) but do have virtio_scsi and sr_mod.
 */
function cloudInitCdrom(seed: string): string[] {
  return [
    '-blockdev',
    `driver=file,node-name=seed-file,filename=${opt(seed)},read-only=on`,
    '-blockdev',
    'driver=raw,node-name=seed,file=seed-file,read-only=on',
    '-device',
    'virtio-scsi-pci,id=seed-scsi,bus=pcie.0,addr=0x5',
    '-device',
    'scsi-cd,id=seed-dev,bus=seed-scsi.0,drive=seed',
  ];
}

function monitor(id: string, socket: string): string[] {
  return [
    '-chardev',
    `socket,id=${id},path=${opt(socket)},server=on,wait=off`,
    '-mon',
    `chardev=${id},mode=control`,
  ];
}

/** A value inside a QEMU `key=value,...` option: a comma is written twice. */
export function opt(value: string): string {
  if (/[\0\n]/.test(value)) {
    throw new DomainError('VALIDATION_FAILED', 'a QEMU option value cannot hold NUL or newline', {
      value,
    });
  }
  return value.replace(/,/g, ',,');
}

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

function check(ok: boolean, field: string, value: unknown): void {
  if (!ok) {
    throw new DomainError('VALIDATION_FAILED', `invalid ${field}: ${JSON.stringify(value)}`, {
      field,
      value,
    });
  }
}
