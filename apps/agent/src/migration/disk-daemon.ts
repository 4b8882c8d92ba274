import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { escapeQemuOptionValue as opt } from '@novacron/qemu';
import { QmpClient } from '@novacron/qmp';
import { DISK_NODE } from './disk-mirror.js';
import { MIGRATION_TLS_OBJECT } from './qmp-migration.js';

/**
 * A qemu-storage-daemon holding a stopped VM's disk for a cold migration: the same block nodes as
 * the VM's command line (`disk0` over `disk0-file`), QMP on a unix socket, and on the target the
 * migration's server credentials for the NBD export. The same QMP steps as a live mirror then move
 * the disk, with no guest running anywhere.
 */
export class DiskDaemon {
  private constructor(
    readonly qmp: QmpClient,
    private readonly child: ChildProcess,
    private readonly socket: string,
  ) {}

  static async start(options: {
    disk: string;
    socket: string;
    /** The tls-creds-x509 folder; the object is `server` on a target, added per call on a source. */
    tls?: { dir: string; endpoint: 'server' };
    binary?: string;
  }): Promise<DiskDaemon> {
    await rm(options.socket, { force: true });
    const args = [
      '--blockdev',
      `driver=file,node-name=${DISK_NODE}-file,filename=${opt(options.disk)}`,
      '--blockdev',
      `driver=qcow2,node-name=${DISK_NODE},file=${DISK_NODE}-file`,
      '--chardev',
      `socket,id=qmp,path=${opt(options.socket)},server=on,wait=off`,
      '--monitor',
      'chardev=qmp',
      ...(options.tls
        ? [
            '--object',
            `tls-creds-x509,id=${MIGRATION_TLS_OBJECT},dir=${opt(options.tls.dir)},endpoint=${options.tls.endpoint},verify-peer=on`,
          ]
        : []),
    ];
    const child = spawn(options.binary ?? 'qemu-storage-daemon', args, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(`qemu-storage-daemon exited: ${stderr.trim()}`);
      }
      const qmp = await QmpClient.connect(options.socket, { timeoutMs: 500 }).catch(() => null);
      if (qmp !== null) return new DiskDaemon(qmp, child, options.socket);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`qemu-storage-daemon did not open its monitor: ${stderr.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Quits the daemon (its disk is closed and consistent) and waits for it to exit. */
  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      await this.qmp.executeRaw('quit').catch(() => this.child.kill('SIGKILL'));
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
    await this.qmp.close().catch(() => undefined);
    await rm(this.socket, { force: true });
  }
}
