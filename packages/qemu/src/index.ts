/**
 * @novacron/qemu — everything that touches QEMU as a program: the command-line builder, process
 * supervision (launch detached, re-attach through the pidfile, exit detection), `qemu-img`, host
 * prerequisites, accelerator selection with a probe guest, and the tiny Debian-built test guest.
 * May import @novacron/api, @novacron/domain and @novacron/qmp only; never a database, HTTP or
 * the agent. Programs run with argument arrays, never through a shell.
 */
export {
  selectAccelerator,
  type AcceleratorVerdict,
  type ProbeImage,
  type SelectAcceleratorOptions,
} from './accelerator.js';
export { writeFileAtomic } from './atomic-write.js';
export {
  CLOUD_INIT_VOLUME_ID,
  cloudInitSeedFiles,
  writeCloudInitSeed,
  type CloudInitSeedFiles,
} from './cloud-init-seed.js';
export {
  buildQemuArgs,
  DEFAULT_CPU_MODEL,
  kernelCommandLine,
  opt as escapeQemuOptionValue,
  type BuildQemuArgsOptions,
  type QemuNic,
  type QemuPaths,
} from './command-line.js';
export {
  DEBIAN_CLOUD_DISK_FILE,
  DEBIAN_CLOUD_PACKAGES,
  debianCloudRecipeHash,
  ensureDebianCloudImage,
  masterBootRecord,
  type DebianCloudImage,
  type EnsureDebianCloudImageOptions,
} from './debian-cloud-image.js';
export { readFileTail } from './file-tail.js';
export {
  assertSelfContained,
  importToQcow2,
  inspectDisk,
  inspectImportSource,
  MAX_IMPORT_VIRTUAL_BYTES,
  type ImportSource,
} from './foreign-image.js';
export {
  extractOvaBootDisk,
  inspectOva,
  isTarFile,
  parseOvaManifest,
  parseOvf,
  readTarEntries,
  type OvaContents,
  type OvfDescriptor,
  type TarEntry,
} from './ova.js';
export {
  assertValidHardware,
  bootCpus,
  bootMemoryMiB,
  cpuDeviceId,
  cpuDeviceType,
  cpuHotplugEnabled,
  dimmBackendId,
  dimmId,
  hardwareDeviceArgs,
  hardwareOf,
  hotplugBus,
  memoryArg,
  memoryHotplugEnabled,
  smpArg,
  type HardwarePaths,
} from './hardware-args.js';
export { silentLogger, type QemuLogger } from './logger.js';
export {
  checkHostPrerequisites,
  HOST_PREREQUISITES,
  type HostPrerequisites,
  type MissingPrerequisite,
} from './prerequisites.js';
export { findQemuPid, isQemuOfVm, processArguments, readPidFile } from './process.js';
export { probeGuestBoot, probeKvm, type KvmProbeResult, type ProbeGuestOptions } from './probe.js';
export {
  convertToQcow2,
  allocatedTopBytes,
  createOverlay,
  createQcow2,
  imageInfo,
  IMPORTABLE_FORMATS,
  inspectForeignImage,
  resizeImage,
  type QemuImgInfo,
  type QemuImgOptions,
} from './qemu-img.js';
export {
  assertSnapshotName,
  copyDisk,
  diskSnapshot,
  listDiskSnapshots,
  type DiskSnapshot,
} from './disk-snapshots.js';
export {
  QemuInstance,
  type AttachQemuOptions,
  type LaunchQemuOptions,
  type QemuExit,
} from './qemu-instance.js';
export { readQemuFailure } from './qemu-log.js';
export { parseQemuVersion, qemuVersion, type QemuVersionInfo } from './qemu-version.js';
export { vmStateOfRunState } from './run-state.js';
export {
  ensureTinyImage,
  recipeHash as tinyImageRecipeHash,
  TINY_INITRD_FILE,
  TINY_KERNEL_FILE,
  type EnsureTinyImageOptions,
  type TinyImage,
} from './tiny-image/ensure.js';
export {
  GUEST_IP_PREFIX,
  GUEST_READY_MARKER,
  HEARTBEAT_PREFIX,
  TINY_DEFAULT_KERNEL_ARGS,
} from './tiny-image/init-script.js';
export type { DebianPackage, TinyPackages } from './tiny-image/apt.js';
export {
  assertSocketPathsFit,
  MAX_UNIX_SOCKET_PATH_BYTES,
  vmFiles,
  type VmFiles,
} from './vm-files.js';
