import { access, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  Accelerator,
  AgentVmSpec,
  AgentVmStateChange,
  AgentVmStatus,
  VmState,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';
import {
  buildQemuArgs,
  createOverlay,
  createQcow2,
  imageInfo,
  QemuInstance,
  readPidFile,
  readQemuFailure,
  TINY_INITRD_FILE,
  TINY_KERNEL_FILE,
  vmStateOfRunState,
  type QemuExit,
} from '@novacron/qemu';
import { QmpError } from '@novacron/qmp';
import { readConsoleLogTail } from './console-log.js';
import type { ImageSource } from './image-cache.js';
import type { AgentLogger } from './logger.js';
import type { VmNetwork } from './network/host-network.js';
import type { RecordedExit, VmStateDir } from './vm-state-dir.js';

export interface VmManagerOptions {
  stateDir: VmStateDir;
  /** Where images come from: the cache the server fills (`vmlinuz` + `initrd.img`, or `disk.qcow2`). */
  images: ImageSource;
  accelerator: Accelerator;
  /** Cluster CPU model; default per accelerator. */
  cpuModel?: string;
  qemuBinary?: string;
  logger: AgentLogger;
  /** The host's VM network; without it VMs get no NIC. */
  network?: VmNetwork;
}

interface VmEntry {
  spec: AgentVmSpec;
  qemu: QemuInstance | null;
  /** Set while an action moves the VM: what to report meanwhile. */
  transition: Extract<VmState, 'starting' | 'stopping'> | null;
  lastExit: RecordedExit | null;
  /** Settles once the last QEMU's exit is written to status.json. */
  exitRecorded: Promise<void>;
}

const GiB = 1024 ** 3;
const DEFAULT_STOP_TIMEOUT_S = 30;
const STATUS_TIMEOUT_MS = 3_000;

/**
 * The VMs of this host: their specs on disk, their QEMU processes, and the actions on them.
 * Actions on one VM run one at a time (a per-VM queue); status reads never wait for them.
 * QEMU state is read from QEMU itself (query-status) or from its exit.
 */
export class VmManager {
  private readonly vms = new Map<string, VmEntry>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private closed = false;

  constructor(private readonly options: VmManagerOptions) {}

  /** Loads every VM the state folder knows and re-attaches to the QEMUs still running. */
  async reattach(): Promise<void> {
    const { stateDir, logger } = this.options;
    for (const id of await stateDir.listIds()) {
      const spec = await stateDir.readSpec(id);
      if (!spec || spec.id !== id) {
        logger.warn({ vmId: id }, 'VM folder without a readable spec; ignored');
        continue;
      }
      const entry: VmEntry = {
        spec,
        qemu: null,
        transition: null,
        lastExit: await stateDir.readExit(id),
        exitRecorded: Promise.resolve(),
      };
      this.vms.set(id, entry);
      const files = stateDir.files(id);
      const qemu = await QemuInstance.attach({ vmId: id, files, logger });
      if (qemu) {
        this.adopt(id, entry, qemu);
        logger.info(
          { vmId: id, pid: qemu.pid, qmp: qemu.connected },
          're-attached to running QEMU',
        );
      } else if (entry.lastExit === null && (await readPidFile(files.pidFile)) !== null) {
        // No exit recorded, yet QEMU is gone and left its pidfile (a clean exit removes it):
        // it died while no agent watched it, so it crashed.
        const said = await readQemuFailure(files.qemuLog);
        const how = 'QEMU exited while the agent was down (killed or crashed)';
        entry.lastExit = {
          state: 'error',
          reason: said === null ? how : `${how}; qemu.log: ${said}`,
          at: new Date().toISOString(),
        };
        await stateDir.writeExit(id, entry.lastExit);
        logger.warn(
          { vmId: id, reason: entry.lastExit.reason },
          'QEMU died while the agent was down',
        );
      }
      // A QEMU that is gone left its tap device behind.
      if (!qemu) await this.options.network?.releaseNic(id);
    }
  }

  /** The VMs whose QEMU process runs now, for the metrics sampler (it never waits for actions). */
  running(): { id: string; memoryMiB: number; qemu: QemuInstance }[] {
    return [...this.vms.entries()].flatMap(([id, entry]) =>
      entry.qemu && !entry.qemu.hasExited
        ? [{ id, memoryMiB: entry.spec.memoryMiB, qemu: entry.qemu }]
        : [],
    );
  }

  async list(): Promise<AgentVmStatus[]> {
    return Promise.all([...this.vms.keys()].sort().map((id) => this.status(id)));
  }

  async status(id: string): Promise<AgentVmStatus> {
    const entry = this.entry(id);
    const qemu = entry.qemu && !entry.qemu.hasExited ? entry.qemu : null;
    if (entry.transition) {
      return { id, state: entry.transition, pid: qemu?.pid ?? null, reason: null };
    }
    if (!qemu) {
      return {
        id,
        state: entry.lastExit?.state ?? 'stopped',
        pid: null,
        reason: entry.lastExit?.reason ?? null,
      };
    }
    try {
      const { status } = await qemu.queryStatus(STATUS_TIMEOUT_MS);
      const { state, reason } = vmStateOfRunState(status);
      return { id, state, pid: qemu.pid, reason };
    } catch (error) {
      if (qemu.hasExited) return this.status(id);
      return { id, state: 'unknown', pid: qemu.pid, reason: `QMP: ${describe(error)}` };
    }
  }

  /** PUT: records the spec, creates the disk, and drives QEMU to the desired state. */
  ensure(spec: AgentVmSpec): Promise<AgentVmStatus> {
    return this.queued(spec.id, async () => {
      const { stateDir } = this.options;
      await stateDir.writeSpec(spec);
      let entry = this.vms.get(spec.id);
      if (entry) entry.spec = spec;
      else {
        entry = {
          spec,
          qemu: null,
          transition: null,
          lastExit: await stateDir.readExit(spec.id),
          exitRecorded: Promise.resolve(),
        };
        this.vms.set(spec.id, entry);
      }
      await this.ensureDisk(spec);
      const live = entry.qemu !== null && !entry.qemu.hasExited;
      if (spec.desiredState === 'running' && !live) await this.start(spec.id, entry);
      if (spec.desiredState === 'stopped' && live) {
        await this.stop(spec.id, entry, { action: 'stop' });
      }
      return this.status(spec.id);
    });
  }

  changeState(id: string, change: AgentVmStateChange): Promise<AgentVmStatus> {
    return this.queued(id, async () => {
      const entry = this.entry(id);
      const qemu = entry.qemu && !entry.qemu.hasExited ? entry.qemu : null;
      switch (change.action) {
        case 'start':
          if (!qemu) {
            await this.ensureDisk(entry.spec);
            await this.start(id, entry);
          } else if ((await this.status(id)).state === 'paused') {
            await this.qmp(qemu, 'cont');
          }
          break;
        case 'stop':
          if (qemu) await this.stop(id, entry, change);
          break;
        case 'reboot':
          await this.qmp(this.requireRunning(id, qemu, 'reboot'), 'system_reset');
          break;
        case 'pause':
          await this.qmp(this.requireRunning(id, qemu, 'pause'), 'stop');
          break;
        case 'resume':
          await this.qmp(this.requireRunning(id, qemu, 'resume'), 'cont');
          break;
      }
      return this.status(id);
    });
  }

  /** DELETE: stops QEMU at once if it runs and removes the VM folder. Idempotent. */
  delete(id: string): Promise<void> {
    return this.queued(id, async () => {
      const entry = this.vms.get(id);
      const qemu = entry?.qemu && !entry.qemu.hasExited ? entry.qemu : null;
      if (qemu) await qemu.quit();
      this.vms.delete(id);
      await entry?.exitRecorded;
      // A QEMU we do not hold (e.g. a failed attach) must not outlive its folder either.
      const stray = await QemuInstance.attach({
        vmId: id,
        files: this.options.stateDir.files(id),
        connectTimeoutMs: 1_000,
      });
      if (stray) await stray.quit();
      await this.options.network?.releaseNic(id);
      await this.options.stateDir.remove(id);
    });
  }

  /** The end of the VM's console.log (the serial output QEMU recorded). */
  async consoleTail(id: string, maxBytes: number): Promise<Buffer> {
    this.entry(id);
    return readConsoleLogTail(this.options.stateDir.files(id).consoleLog, maxBytes);
  }

  /** The unix socket of the VM's serial port or VNC display, while its QEMU runs. */
  consoleSocket(id: string, kind: 'serial' | 'vnc'): string {
    const entry = this.entry(id);
    this.requireRunning(id, entry.qemu, 'attach to the console of');
    const files = this.options.stateDir.files(id);
    return kind === 'serial' ? files.serialSocket : files.vncSocket;
  }

  /** Lets go of every QEMU (they keep running) and refuses further actions. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.queues.values()]);
    await Promise.all(
      [...this.vms.values()].map((entry) => entry.qemu?.detach() ?? Promise.resolve()),
    );
  }

  private entry(id: string): VmEntry {
    const entry = this.vms.get(id);
    if (!entry) throw new DomainError('VM_NOT_FOUND', `no VM ${id} on this host`, { id });
    return entry;
  }

  private requireRunning(id: string, qemu: QemuInstance | null, action: string): QemuInstance {
    if (!qemu) {
      throw new DomainError('VM_INVALID_STATE', `cannot ${action} VM ${id}: it is not running`, {
        id,
        action,
        state: this.vms.get(id)?.lastExit?.state ?? 'stopped',
      });
    }
    return qemu;
  }

  private async qmp(qemu: QemuInstance, command: 'cont' | 'stop' | 'system_reset'): Promise<void> {
    try {
      await (await qemu.qmp()).execute(command);
    } catch (error) {
      throw asQemuFailure(error, `QMP ${command} failed`);
    }
  }

  private async start(id: string, entry: VmEntry): Promise<void> {
    const { stateDir, logger } = this.options;
    const files = stateDir.files(id);
    entry.transition = 'starting';
    try {
      const boot = await this.bootFiles(entry.spec);
      const nic = await this.options.network?.prepareNic(entry.spec);
      const args = buildQemuArgs(entry.spec, { ...files, ...boot }, this.options.accelerator, {
        ...(this.options.cpuModel === undefined ? {} : { cpuModel: this.options.cpuModel }),
        ...(nic && { nic }),
      });
      const qemu = await QemuInstance.launch({
        vmId: id,
        args,
        files,
        logger,
        ...(this.options.qemuBinary === undefined ? {} : { qemuBinary: this.options.qemuBinary }),
      });
      entry.lastExit = null;
      await stateDir.clearExit(id);
      this.adopt(id, entry, qemu);
    } catch (error) {
      await this.options.network?.releaseNic(id);
      const reason = describe(error);
      entry.lastExit = { state: 'error', reason, at: new Date().toISOString() };
      await stateDir.writeExit(id, entry.lastExit);
      logger.error({ vmId: id, reason }, 'VM failed to start');
      throw error;
    } finally {
      entry.transition = null;
    }
  }

  /** ACPI power-off and wait, then quit; `force` quits at once. A paused guest is resumed first. */
  private async stop(id: string, entry: VmEntry, change: AgentVmStateChange): Promise<void> {
    const qemu = entry.qemu;
    if (!qemu || qemu.hasExited) return;
    const timeoutMs = (change.timeoutSeconds ?? DEFAULT_STOP_TIMEOUT_S) * 1000;
    entry.transition = 'stopping';
    try {
      if (change.force) {
        await qemu.quit();
      } else {
        // A paused guest cannot see the power button.
        const status = await qemu.queryStatus(STATUS_TIMEOUT_MS).catch(() => null);
        if (status?.status === 'paused') await this.qmp(qemu, 'cont');
        // Without a working monitor there is no power button: quit falls back to signals.
        const off = await qemu.powerdown(timeoutMs).catch((error: unknown) => {
          this.options.logger.warn({ vmId: id, error: describe(error) }, 'ACPI power-off failed');
          return false;
        });
        if (!off) {
          this.options.logger.warn({ vmId: id, timeoutMs }, 'guest did not power off; quitting');
          await qemu.quit();
        }
      }
      await qemu.exited;
    } catch (error) {
      if (!qemu.hasExited) throw asQemuFailure(error, `stopping VM ${id} failed`);
    } finally {
      entry.transition = null;
    }
  }

  /** Follows a QEMU until it exits, then records how it ended. */
  private adopt(id: string, entry: VmEntry, qemu: QemuInstance): void {
    entry.qemu = qemu;
    // Kept so that delete waits for it: the write would otherwise race the folder's removal.
    entry.exitRecorded = qemu.exited.then(async (exit: QemuExit) => {
      if (entry.qemu !== qemu || this.closed) return;
      entry.qemu = null;
      // Called before any await, so a start queued after this exit re-creates the tap after it.
      const released = this.options.network?.releaseNic(id);
      entry.lastExit = {
        state: exit.abnormal ? 'error' : 'stopped',
        reason: exit.abnormal ? (exit.reason ?? 'QEMU exited unexpectedly') : null,
        at: new Date().toISOString(),
      };
      if (this.vms.get(id) === entry) {
        await this.options.stateDir.writeExit(id, entry.lastExit).catch((error: unknown) => {
          this.options.logger.warn({ vmId: id, error: describe(error) }, 'cannot record VM exit');
        });
      }
      await released;
    });
  }

  private async bootFiles(spec: AgentVmSpec): Promise<{ kernel?: string; initrd?: string }> {
    if (spec.image.kind !== 'kernel') return {};
    const dir = await this.options.images.ensure(spec.image);
    const kernel = join(dir, TINY_KERNEL_FILE);
    const initrd = join(dir, TINY_INITRD_FILE);
    try {
      await Promise.all([access(kernel), access(initrd)]);
    } catch {
      throw new DomainError(
        'IMAGE_NOT_FOUND',
        `image ${spec.image.id} is not on this host (no ${TINY_KERNEL_FILE} and ${TINY_INITRD_FILE})`,
        { image: spec.image.id },
      );
    }
    return { kernel, initrd };
  }

  /** Kernel images get a blank qcow2 of diskGiB; disk images an overlay on the image's disk. */
  private async ensureDisk(spec: AgentVmSpec): Promise<void> {
    const { disk } = this.options.stateDir.files(spec.id);
    if (await exists(disk)) return;
    const sizeBytes = spec.diskGiB * GiB;
    const temporary = `${disk}.creating`;
    if (spec.image.kind === 'kernel') {
      await createQcow2(temporary, sizeBytes);
    } else {
      const base = join(await this.options.images.ensure(spec.image), 'disk.qcow2');
      if (!(await exists(base))) {
        throw new DomainError('IMAGE_NOT_FOUND', `image ${spec.image.id} is not on this host`, {
          image: spec.image.id,
        });
      }
      const info = await imageInfo(base);
      await createOverlay(temporary, base, info.format, Math.max(sizeBytes, info.virtualSizeBytes));
    }
    // Created under another name and renamed: a crash never leaves a half-made disk in place.
    await rename(temporary, disk);
  }

  private async queued<T>(id: string, action: () => Promise<T>): Promise<T> {
    if (this.closed) throw new DomainError('AGENT_ERROR', 'the agent is shutting down');
    const previous = this.queues.get(id) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(action);
    this.queues.set(id, run);
    try {
      return await run;
    } finally {
      if (this.queues.get(id) === run) this.queues.delete(id);
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function asQemuFailure(error: unknown, what: string): Error {
  if (error instanceof DomainError) return error;
  if (error instanceof QmpError) {
    return new DomainError('QEMU_FAILED', `${what}: ${error.message}`, { qmp: error.code });
  }
  return error instanceof Error ? error : new Error(String(error));
}
