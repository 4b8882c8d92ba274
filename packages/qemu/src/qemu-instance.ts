import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { DomainError } from '@novacron/domain';
import { QmpClient, QmpDisconnectedError, type QmpStatusInfo } from '@novacron/qmp';
import { silentLogger, type QemuLogger } from './logger.js';
import { findQemuPid, processArguments, isQemuOfVm, signalProcess } from './process.js';
import { LAUNCH_HEADER_PREFIX, readQemuFailure } from './qemu-log.js';
import { assertSocketPathsFit, type VmFiles } from './vm-files.js';

/** How a QEMU process ended. */
export interface QemuExit {
  /** Exit code, known only for a QEMU this process started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** QEMU's SHUTDOWN event, when one arrived: guest power-off, quit or a signal. */
  shutdown: { guest: boolean; reason: string } | null;
  /** We asked for it (quit or kill). */
  requested: boolean;
  /** Neither asked for nor announced, or a failing exit code: the VM crashed. */
  abnormal: boolean;
  /** For an abnormal exit: the end of qemu.log. */
  reason: string | null;
}

export interface LaunchQemuOptions {
  vmId: string;
  args: readonly string[];
  files: VmFiles;
  /** Default `qemu-system-x86_64`. */
  qemuBinary?: string;
  /** Until QMP answers (default 20 s). */
  startTimeoutMs?: number;
  /** Default deadline of QMP commands (default 30 s). */
  qmpCommandTimeoutMs?: number;
  logger?: QemuLogger;
  /** Called right after the spawn, before QMP answers (the guest boots from here on). */
  onSpawn?: () => void;
}

export interface AttachQemuOptions {
  vmId: string;
  files: VmFiles;
  connectTimeoutMs?: number;
  qmpCommandTimeoutMs?: number;
  /** Connect to the auxiliary monitor (for tools running beside an agent). */
  auxiliaryMonitor?: boolean;
  logger?: QemuLogger;
}

const POLL_MS = 500;

/**
 * One QEMU process of one VM, whether this process started it (`launch`) or found it running
 * (`attach`): its pid, its QMP connection, and a promise of its exit. QEMU runs in its own
 * session with stdio on qemu.log, so it outlives whoever launched it; `detach` lets go without
 * stopping it.
 */
export class QemuInstance {
  readonly exited: Promise<QemuExit>;
  private resolveExit!: (exit: QemuExit) => void;
  private exitValue: QemuExit | null = null;
  private shutdownEvent: QemuExit['shutdown'] = null;
  private requested = false;
  private detached = false;
  private reconnecting: Promise<QmpClient> | null = null;
  private pollingActive = false;
  private waiters = 0;

  private constructor(
    readonly vmId: string,
    readonly pid: number,
    readonly files: VmFiles,
    private client: QmpClient | null,
    private readonly socketPath: string,
    private readonly commandTimeoutMs: number,
    private readonly logger: QemuLogger,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
    if (client) this.follow(client);
  }

  /** Starts QEMU detached and returns once its QMP monitor answers. */
  static async launch(options: LaunchQemuOptions): Promise<QemuInstance> {
    const { files } = options;
    const logger = options.logger ?? silentLogger;
    const startTimeoutMs = options.startTimeoutMs ?? 20_000;
    assertSocketPathsFit(files);
    // Removing the sockets of a QEMU that still runs would cut it off for good.
    const running = await findQemuPid(options.vmId, files.pidFile);
    if (running !== null) {
      throw new DomainError('VM_INVALID_STATE', `QEMU of VM ${options.vmId} already runs`, {
        vmId: options.vmId,
        pid: running,
      });
    }
    await mkdir(files.dir, { recursive: true });
    for (const stale of [
      files.qmpSocket,
      files.qmpAuxSocket,
      files.serialSocket,
      files.vncSocket,
    ]) {
      await rm(stale, { force: true });
    }
    await rm(files.pidFile, { force: true });

    const log = await open(files.qemuLog, 'a');
    let child: ChildProcess;
    try {
      await log.write(`${LAUNCH_HEADER_PREFIX} at ${new Date().toISOString()}\n`);
      // Own session (setsid) and no pipes to us: QEMU keeps running when the agent goes.
      child = spawn(options.qemuBinary ?? 'qemu-system-x86_64', [...options.args], {
        cwd: files.dir,
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
      });
    } finally {
      await log.close();
    }
    child.unref();
    options.onSpawn?.();

    let childExit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    const childExited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve) => {
        child.once('exit', (code, signal) => {
          childExit = { code, signal };
          resolve(childExit);
        });
        child.once('error', (error: NodeJS.ErrnoException) => {
          childExit = { code: error.code === 'ENOENT' ? 127 : 126, signal: null };
          resolve(childExit);
        });
      },
    );

    const started = Date.now();
    let client: QmpClient | null = null;
    while (!client) {
      if (childExit) break;
      const remaining = startTimeoutMs - (Date.now() - started);
      if (remaining <= 0) break;
      try {
        client = await QmpClient.connect(files.qmpSocket, {
          timeoutMs: Math.min(remaining, 5_000),
          commandTimeoutMs: options.qmpCommandTimeoutMs,
        });
      } catch {
        await Promise.race([sleep(50), childExited]);
      }
    }

    if (!client || childExit || child.pid === undefined) {
      await client?.close();
      if (!childExit && child.pid !== undefined) {
        signalProcess(child.pid, 'SIGKILL');
        await childExited;
      }
      const exit = childExit as { code: number | null; signal: NodeJS.Signals | null } | null;
      if (exit?.code === 127) {
        throw new DomainError('HOST_PREREQUISITE_MISSING', 'qemu-system-x86_64 is not installed', {
          install: 'apt-get install -y qemu-system-x86',
        });
      }
      const reason =
        (await readQemuFailure(files.qemuLog)) ??
        (exit ? `QEMU exited (code ${String(exit.code)})` : 'QEMU did not answer on QMP');
      throw new DomainError('QEMU_FAILED', `QEMU failed to start: ${reason}`, {
        vmId: options.vmId,
        reason,
        elapsedMs: Date.now() - started,
      });
    }

    const instance = new QemuInstance(
      options.vmId,
      child.pid,
      files,
      client,
      files.qmpSocket,
      options.qmpCommandTimeoutMs ?? 30_000,
      logger,
    );
    void childExited.then((exit) => instance.finish(exit.code, exit.signal));
    logger.info({ vmId: options.vmId, pid: child.pid, ms: Date.now() - started }, 'QEMU started');
    return instance;
  }

  /**
   * The running QEMU of a VM, found through its pidfile (and checked against /proc/<pid>/cmdline),
   * with a QMP connection; null when it is not running. When QMP does not answer the instance
   * is still returned, without a connection (`connected` false), since the process lives.
   */
  static async attach(options: AttachQemuOptions): Promise<QemuInstance | null> {
    const { files, vmId } = options;
    const pid = await findQemuPid(vmId, files.pidFile);
    if (pid === null) return null;
    const socketPath = options.auxiliaryMonitor ? files.qmpAuxSocket : files.qmpSocket;
    let client: QmpClient | null = null;
    try {
      client = await QmpClient.connect(socketPath, {
        timeoutMs: options.connectTimeoutMs ?? 5_000,
        commandTimeoutMs: options.qmpCommandTimeoutMs,
      });
    } catch (error) {
      options.logger?.warn(
        { vmId, pid, error: String(error) },
        'QEMU runs but QMP does not answer',
      );
    }
    const instance = new QemuInstance(
      vmId,
      pid,
      files,
      client,
      socketPath,
      options.qmpCommandTimeoutMs ?? 30_000,
      options.logger ?? silentLogger,
    );
    instance.pollForExit();
    return instance;
  }

  get hasExited(): boolean {
    return this.exitValue !== null;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** The QMP connection, reconnecting if it dropped while QEMU lives. */
  async qmp(): Promise<QmpClient> {
    if (this.client?.connected) return this.client;
    if (this.exitValue || this.detached) {
      throw new QmpDisconnectedError(`QEMU of VM ${this.vmId} is not running`);
    }
    this.reconnecting ??= QmpClient.connect(this.socketPath, {
      timeoutMs: 3_000,
      commandTimeoutMs: this.commandTimeoutMs,
    }).finally(() => {
      this.reconnecting = null;
    });
    const client = await this.reconnecting;
    if (this.client !== client) {
      this.client = client;
      this.follow(client);
    }
    return client;
  }

  async queryStatus(timeoutMs = 5_000): Promise<QmpStatusInfo> {
    return (await this.qmp()).execute('query-status', undefined, { timeoutMs });
  }

  /**
   * ACPI power button, then wait up to `timeoutMs` for QEMU to exit. True when the guest
   * powered off in time; false when it is still running (the caller decides to force).
   */
  async powerdown(timeoutMs: number): Promise<boolean> {
    if (this.exitValue) return true;
    await (await this.qmp()).execute('system_powerdown');
    return this.waitForExit(timeoutMs);
  }

  /**
   * Stops QEMU at once: QMP `quit`, then SIGTERM and SIGKILL if it still lingers. Resolves once
   * the process is gone.
   */
  async quit(graceMs = 5_000): Promise<QemuExit> {
    if (this.exitValue) return this.exitValue;
    this.requested = true;
    try {
      await (await this.qmp()).execute('quit', undefined, { timeoutMs: graceMs });
    } catch (error) {
      this.logger.warn({ vmId: this.vmId, error: String(error) }, 'QMP quit failed; signalling');
      signalProcess(this.pid, 'SIGTERM');
    }
    if (!(await this.waitForExit(graceMs))) signalProcess(this.pid, 'SIGKILL');
    return this.exitAfterKill();
  }

  /** SIGKILL, for tests and last resorts. */
  async kill(): Promise<QemuExit> {
    if (this.exitValue) return this.exitValue;
    this.requested = true;
    signalProcess(this.pid, 'SIGKILL');
    return this.exitAfterKill();
  }

  private async exitAfterKill(): Promise<QemuExit> {
    if (await this.waitForExit(10_000)) return this.exited;
    throw new DomainError('QEMU_FAILED', `QEMU ${this.pid} of VM ${this.vmId} survived SIGKILL`, {
      pid: this.pid,
    });
  }

  /** Lets go of QEMU (closes QMP, stops watching); the VM keeps running. */
  async detach(): Promise<void> {
    this.detached = true;
    await this.client?.close();
  }

  /** True if QEMU exited within `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    if (this.exitValue) return true;
    this.waiters += 1;
    this.pollForExit();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.exited.then(() => true as const), timedOut]);
    } finally {
      clearTimeout(timer);
      this.waiters -= 1;
    }
  }

  /**
   * Watches /proc until the process is gone: always for a QEMU that is not our child (no exit
   * event), and while someone waits for a detached one.
   */
  private pollForExit(): void {
    if (this.pollingActive) return;
    this.pollingActive = true;
    const check = async () => {
      if (this.exitValue) return;
      const args = await processArguments(this.pid);
      if (!args || !isQemuOfVm(args, this.vmId, this.files.pidFile)) {
        await this.finish(null, null);
        return;
      }
      if (this.detached && this.waiters === 0) {
        this.pollingActive = false;
        return;
      }
      // A closed monitor usually means QEMU is exiting: look again soon.
      const soon = this.client && !this.client.connected ? 50 : POLL_MS;
      setTimeout(() => void check(), soon).unref();
    };
    void check();
  }

  private follow(client: QmpClient): void {
    const events = client.events();
    void (async () => {
      for await (const event of events) {
        if (event.event === 'SHUTDOWN') {
          this.shutdownEvent = {
            guest: event.data.guest === true,
            reason: typeof event.data.reason === 'string' ? event.data.reason : 'unknown',
          };
        }
      }
    })();
  }

  private async finish(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.exitValue) return;
    // Read what QEMU said before it hung up (a SHUTDOWN event may still sit in the socket).
    if (this.client) await Promise.race([this.client.closed, sleep(1_000)]);
    const announced = this.shutdownEvent !== null || code === 0;
    const abnormal =
      !this.requested && (signal !== null || (code !== null && code !== 0) || !announced);
    let reason: string | null = null;
    if (abnormal) {
      const how = signal
        ? `QEMU was killed by ${signal}`
        : code !== null && code !== 0
          ? `QEMU exited with code ${code}`
          : 'QEMU exited without a shutdown event';
      const said = await readQemuFailure(this.files.qemuLog);
      reason = said === null ? how : `${how}; qemu.log: ${said}`;
    }
    if (this.exitValue) return;
    this.exitValue = {
      code,
      signal,
      shutdown: this.shutdownEvent,
      requested: this.requested,
      abnormal,
      reason,
    };
    if (!this.detached) {
      this.logger.info({ vmId: this.vmId, pid: this.pid, ...this.exitValue }, 'QEMU exited');
    }
    await this.client?.close();
    this.resolveExit(this.exitValue);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
