import { join } from 'node:path';
import { DomainError } from '@novacron/domain';

/** The files of one VM inside its folder (docs/adr/0005-data-directory.md). */
export interface VmFiles {
  dir: string;
  disk: string;
  /** The agent's QMP monitor. */
  qmpSocket: string;
  /** A second QMP monitor, for tools (`novacron down`) while an agent holds the first one. */
  qmpAuxSocket: string;
  serialSocket: string;
  vncSocket: string;
  pidFile: string;
  /** Everything the guest wrote on its serial port, recorded by QEMU itself. */
  consoleLog: string;
  /** QEMU's own stdout and stderr. */
  qemuLog: string;
}

export function vmFiles(vmDir: string): VmFiles {
  return {
    dir: vmDir,
    disk: join(vmDir, 'disk.qcow2'),
    qmpSocket: join(vmDir, 'qmp.sock'),
    qmpAuxSocket: join(vmDir, 'qmp-aux.sock'),
    serialSocket: join(vmDir, 'serial.sock'),
    vncSocket: join(vmDir, 'vnc.sock'),
    pidFile: join(vmDir, 'qemu.pid'),
    consoleLog: join(vmDir, 'console.log'),
    qemuLog: join(vmDir, 'qemu.log'),
  };
}

/** sun_path holds 108 bytes including the terminating NUL. */
export const MAX_UNIX_SOCKET_PATH_BYTES = 107;

/** Refuses a VM folder whose socket paths the kernel would truncate. */
export function assertSocketPathsFit(files: VmFiles): void {
  for (const path of [files.qmpSocket, files.qmpAuxSocket, files.serialSocket, files.vncSocket]) {
    const bytes = Buffer.byteLength(path);
    if (bytes > MAX_UNIX_SOCKET_PATH_BYTES) {
      throw new DomainError(
        'QEMU_FAILED',
        `unix socket path ${path} is ${bytes} bytes, over the ${MAX_UNIX_SOCKET_PATH_BYTES}-byte limit: use a shorter data directory`,
        { path, bytes },
      );
    }
  }
}
