import { access, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type {
  Accelerator,
  AgentHardwareReply,
  AgentDirtyRateReply,
  AgentDiskCopy,
  AgentDiskIncomingRequest,
  AgentIncomingReply,
  AgentIncomingRequest,
  AgentMigrationStatus,
  AgentMigrationTuning,
  AgentMirrorRequest,
  AgentNbdExport,
  AgentOutgoingRequest,
  AgentVmSpec,
  AgentVmStateChange,
  AgentVmStatus,
  KeptDisk,
  VmState,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';
import {
  allocatedTopBytes,
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
  writeCloudInitSeed,
  writeFileAtomic,
  type QemuExit,
} from '@novacron/qemu';
import { QmpCommandError, QmpError, type QmpClient } from '@novacron/qmp';
import { readConsoleLogTail } from './console-log.js';
import type { ImageSource } from './image-cache.js';
import type { AgentLogger } from './logger.js';
import {
  addTlsCreds,
  boundPort,
  capabilitiesOf,
  checkSettings,
  isPostcopyStatus,
  isRunningStatus,
  measureDirtyRate,
  parametersOf,
  postcopyEnabled,
  queryMigrate,
  statusOfQueryMigrate,
  tuningParameters,
  type MigrationSide,
} from './migration/qmp-migration.js';
import { guestRamDataBytes } from './migration/guest-ram.js';
import { DiskDaemon } from './migration/disk-daemon.js';
import {
  abortMirror,
  finishMirror,
  readMirror,
  startMirror,
  startNbdExport,
  stopNbdExport,
} from './migration/disk-mirror.js';
import type { VmNetwork } from './network/host-network.js';
import { StartSteps } from './start-steps.js';
import {
  applyHardware,
  PartialHardwareError,
  prepareHardware,
  releaseHardware,
} from './hardware.js';
import { keepVmDisk } from './kept-disks.js';
import { sharedDiskDir, vmDiskPath } from './paths.js';
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
  /**
   * Live migration: the address this host is reached at in the cluster (the target's QEMU listens
   * there) and the tls-creds-x509 folder made from the cluster identity. Without it the host
   * refuses migrations.
   */
  migration?: { address: string; tlsDir: string | null };
}

/** One VM as disk-level work sees it, inside its action queue (VmManager.withVm). */
export interface ManagedVm {
  spec: AgentVmSpec;
  disk: string;
  /** Where another VM's disk goes on this host (a clone's). */
  diskOf(spec: Pick<AgentVmSpec, 'id' | 'pool'>): string;
  /** The running QEMU, or null. */
  qemu(): QemuInstance | null;
  status(): Promise<AgentVmStatus>;
  /** Quits QEMU at once (no guest shutdown) and waits for its exit to be recorded. */
  powerOff(): Promise<void>;
  /** Starts QEMU with the VM's command line plus `extraArgs` (e.g. `-loadvm TAG`). */
  start(extraArgs?: readonly string[]): Promise<void>;
}

/**
 * This host's part in a live migration of the VM: sending it (and mirroring its local disk), or
 * receiving it (and exporting the fresh disk over NBD).
 */
type MigrationRole =
  | { role: 'source'; mirror?: boolean }
  | { role: 'target'; uri: string; tlsHostname: string; nbd?: AgentNbdExport };

interface VmEntry {
  spec: AgentVmSpec;
  qemu: QemuInstance | null;
  /** Set while an action moves the VM: what to report meanwhile. */
  transition: Extract<VmState, 'starting' | 'stopping' | 'migrating'> | null;
  lastExit: RecordedExit | null;
  /** Settles once the last QEMU's exit is written to status.json. */
  exitRecorded: Promise<void>;
  /** Set from the migration calls (and from QEMU's run state after a re-attach). */
  migration?: MigrationRole | null;
}

const GiB = 1024 ** 3;
const DEFAULT_STOP_TIMEOUT_S = 30;
const STATUS_TIMEOUT_MS = 3_000;
/** Marks a VM folder whose QEMU waits for an incoming migration, so a restarted agent knows. */
const INCOMING_MARKER = 'incoming.json';
/** The cloud-init NoCloud seed ISO in the VM's folder. */
const CLOUD_INIT_SEED_FILE = 'seed.iso';

/**
 * The VMs of this host: their specs on disk, their QEMU processes, and the actions on them.
 * Actions on one VM run one at a time (a per-VM queue); status reads never wait for them.
 * QEMU state is read from QEMU itself (query-status) or from its exit.
 */
export class VmManager {
  private readonly vms = new Map<string, VmEntry>();
  private readonly queues = new Map<string, Promise<unknown>>();
  /** A measurement in progress per VM: QEMU measures one at a time, so a second caller joins it. */
  private readonly dirtyRates = new Map<string, Promise<AgentDirtyRateReply>>();
  /** Cold migrations this host receives: the daemon exporting the fresh disk, per VM. */
  private readonly incomingDisks = new Map<
    string,
    { daemon: DiskDaemon; nbd: AgentNbdExport; spec: AgentVmSpec }
  >();
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
        entry.migration = await this.migrationRoleOf(id, qemu);
        logger.info(
          { vmId: id, pid: qemu.pid, qmp: qemu.connected, migration: entry.migration?.role },
          're-attached to running QEMU',
        );
      } else if (await exists(join(files.dir, INCOMING_MARKER))) {
        // An incoming QEMU that ended while nobody watched: the migration failed; abort forgets it.
        entry.migration = { role: 'target', uri: '', tlsHostname: '' };
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
      if (await this.isMigrating(id, entry, qemu, status)) {
        return { id, state: 'migrating', pid: qemu.pid, reason: null };
      }
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
      const steps = new StartSteps();
      const { stateDir } = this.options;
      // A shared VM on a host without the shared pool is refused before anything is written.
      this.diskPath(spec);
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
      const live = entry.qemu !== null && !entry.qemu.hasExited;
      // A migration moves the VM; only its own calls may act on it meanwhile.
      if (live && (await this.status(spec.id)).state === 'migrating') return this.status(spec.id);
      steps.lap('spec');
      if (spec.desiredState === 'running' && !live) {
        // The disk is made while the start prepares the rest (image, tap device).
        await this.start(spec.id, entry, steps, steps.track('disk', this.ensureDisk(spec)));
      } else {
        await this.ensureDisk(spec);
      }
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
      if (qemu) await this.refuseWhileMigrating(id, change.action);
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

  /**
   * PUT hardware (ADR 23): the VM's size and devices as `spec` says, live while its QEMU runs
   * (hot-add, block_resize, hot-plug and unplug), to its disk files while it is stopped. The spec
   * as applied is recorded, also when a live step failed midway (then the error is answered).
   */
  applyHardware(spec: AgentVmSpec): Promise<AgentHardwareReply> {
    return this.queued(spec.id, async () => {
      const entry = this.entry(spec.id);
      const qemu = this.liveQemu(entry);
      if (qemu) await this.refuseWhileMigrating(spec.id, 'resize');
      const host = {
        diskPath: this.diskPath(spec),
        logger: this.options.logger,
        ...(this.options.network && { network: this.options.network }),
      };
      let applied: AgentVmSpec;
      try {
        applied = await applyHardware(entry.spec, spec, qemu, host);
      } catch (error) {
        if (!(error instanceof PartialHardwareError)) throw error;
        entry.spec = { ...error.applied, desiredState: entry.spec.desiredState };
        await this.options.stateDir.writeSpec(entry.spec);
        throw error.toDomainError();
      }
      entry.spec = { ...applied, desiredState: entry.spec.desiredState };
      await this.options.stateDir.writeSpec(entry.spec);
      const status = await this.status(spec.id);
      return { status, live: qemu !== null, hardware: applied.hardware ?? hardwareOfSpec(applied) };
    });
  }

  /**
   * DELETE: stops QEMU at once if it runs and removes the VM folder, and the disk in the shared
   * pool of a VM this host knows. Idempotent. Refused while the VM migrates. With keepDisks the
   * disk is moved to its pool's kept-disks folder first, and its new path returned.
   */
  delete(id: string, options: { keepDisks?: boolean } = {}): Promise<KeptDisk[]> {
    return this.queued(id, async () => {
      const entry = this.vms.get(id);
      const qemu = entry?.qemu && !entry.qemu.hasExited ? entry.qemu : null;
      if (qemu) await this.refuseWhileMigrating(id, 'delete');
      // An incoming VM that failed here owns nothing: its disk belongs to the source.
      const ownsSharedDisk = entry?.spec.pool === 'shared' && entry.migration?.role !== 'target';
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
      if (entry) await releaseHardware(entry.spec, this.options.network);
      // Kept before the folder goes: a local disk lives in it. Only a disk this host owns.
      const kept =
        options.keepDisks && (entry?.spec.pool !== 'shared' || ownsSharedDisk)
          ? await keepVmDisk(this.options.stateDir.paths, entry?.spec ?? { id, name: id })
          : [];
      await this.options.stateDir.remove(id);
      if (ownsSharedDisk) {
        await rm(sharedDiskDir(this.options.stateDir.paths, id), { recursive: true, force: true });
      }
      return kept;
    });
  }

  /**
   * Target: starts QEMU with exactly the VM's command line plus `-incoming defer`, sets the
   * migration capabilities and parameters both sides need, and listens on this host's cluster
   * address (a port QEMU picks). A repeat call answers the same address.
   */
  migrationIncoming(request: AgentIncomingRequest): Promise<AgentIncomingReply> {
    const { spec, settings } = request;
    return this.queued(spec.id, async () => {
      checkSettings(settings);
      const migration = this.requireMigration();
      let existing = this.vms.get(spec.id);
      if (existing?.qemu && !existing.qemu.hasExited) {
        const role = existing.migration;
        if (role?.role === 'target' && role.uri !== '') {
          return {
            uri: role.uri,
            tlsHostname: role.tlsHostname,
            ...(role.nbd === undefined ? {} : { nbd: role.nbd }),
          };
        }
        throw new DomainError(
          'VM_INVALID_STATE',
          `VM ${spec.id} already runs on this host; it cannot migrate here`,
          { id: spec.id },
        );
      }
      const mirrored = spec.pool !== 'shared';
      refuseLocalDataDisks(spec);
      if (mirrored && existing !== undefined) {
        // A local disk here would be stale: only what an earlier failed incoming left may go.
        if (existing.migration?.role !== 'target') {
          throw new DomainError(
            'VM_INVALID_STATE',
            `VM ${spec.id} already has a folder and disk on this host; it cannot migrate here`,
            { id: spec.id },
          );
        }
        await this.forget(spec.id, existing);
        existing = undefined;
      }
      const disk = this.diskPath(spec);
      if (!mirrored && !(await exists(disk))) {
        throw new DomainError(
          'MIGRATION_NOT_POSSIBLE',
          `the disk of VM ${spec.id} is not at ${disk} on this host: is the shared pool the same directory on every host?`,
          { id: spec.id, disk },
        );
      }
      if (settings.tls && migration.tlsDir === null) {
        throw new DomainError('MIGRATION_NOT_POSSIBLE', 'this host has no TLS credentials');
      }
      const { stateDir } = this.options;
      await stateDir.writeSpec(spec);
      const files = stateDir.files(spec.id);
      const entry: VmEntry = existing ?? {
        spec,
        qemu: null,
        transition: null,
        lastExit: null,
        exitRecorded: Promise.resolve(),
      };
      entry.spec = spec;
      entry.migration = { role: 'target', uri: '', tlsHostname: migration.address };
      this.vms.set(spec.id, entry);
      await writeFileAtomic(join(files.dir, INCOMING_MARKER), '{"role":"target"}\n');
      try {
        // A fresh disk (an overlay on this host's copy of the base image, pulled from the server
        // first) that the source's mirror fills.
        if (mirrored) await this.ensureDisk(spec);
        await this.launch(spec.id, entry, 'incoming');
        const qmp = await this.requireQemu(entry).qmp();
        await this.configureMigration(qmp, 'target', spec, settings);
        await qmp.executeRaw('migrate-incoming', { uri: `tcp:${uriHost(migration.address)}:0` });
        const port = boundPort(await queryMigrate(qmp));
        if (port === null) {
          throw new DomainError('QEMU_FAILED', 'QEMU did not say which port it listens on');
        }
        const uri = `tcp:${uriHost(migration.address)}:${port}`;
        const nbd = mirrored
          ? await startNbdExport(qmp, migration.address, settings.tls)
          : undefined;
        entry.migration = {
          role: 'target',
          uri,
          tlsHostname: migration.address,
          ...(nbd === undefined ? {} : { nbd }),
        };
        this.options.logger.info({ vmId: spec.id, uri, nbd }, 'waiting for an incoming migration');
        return { uri, tlsHostname: migration.address, ...(nbd === undefined ? {} : { nbd }) };
      } catch (error) {
        await this.forget(spec.id, entry);
        throw asQemuFailure(error, 'preparing the incoming migration failed');
      }
    });
  }

  /**
   * Source: sets capabilities and parameters, then `migrate`; answers once the stream is
   * connected (status `active`, or later), or a failure.
   */
  migrationOutgoing(id: string, request: AgentOutgoingRequest): Promise<AgentMigrationStatus> {
    return this.queued(id, async () => {
      const { settings } = request;
      checkSettings(settings);
      const migration = this.requireMigration();
      const entry = this.entry(id);
      const qemu = this.requireRunning(id, this.liveQemu(entry), 'migrate');
      const qmp = await qemu.qmp();
      const current = statusOfQueryMigrate(await queryMigrate(qmp));
      if (isRunningStatus(current.status)) return current;
      const mirrored = entry.spec.pool !== 'shared';
      if (mirrored) {
        const mirror = await readMirror(qmp);
        if (!mirror?.ready) {
          throw new DomainError(
            'MIGRATION_NOT_POSSIBLE',
            `VM ${id} has its disk in the local pool and its mirror to the target is not in sync (${mirror?.status ?? 'no mirror'}): mirror the disk first`,
            { id, mirror: mirror ?? null },
          );
        }
      }
      const { status: runState } = await qemu.queryStatus(STATUS_TIMEOUT_MS);
      if (runState !== 'running' && runState !== 'paused') {
        throw new DomainError('VM_INVALID_STATE', `cannot migrate VM ${id}: QEMU is ${runState}`, {
          id,
          runState,
        });
      }
      if (settings.tls && migration.tlsDir === null) {
        throw new DomainError('MIGRATION_NOT_POSSIBLE', 'this host has no TLS credentials');
      }
      await this.configureMigration(
        qmp,
        'source',
        entry.spec,
        settings,
        request.tlsHostname,
        mirrored,
      );
      entry.migration = { role: 'source', mirror: mirrored };
      try {
        await qmp.executeRaw('migrate', { uri: request.uri });
        // QEMU answers `migrate` at once; the stream leaves `setup` once connected (TLS handshake
        // done), and a refused connection or certificate shows as failed.
        const deadline = Date.now() + 10_000;
        for (;;) {
          const status = statusOfQueryMigrate(await queryMigrate(qmp));
          if (status.status === 'failed') {
            throw new DomainError(
              'MIGRATION_FAILED',
              `the migration of VM ${id} failed at the start: ${status.error ?? 'no reason given'}`,
              { id, uri: request.uri },
            );
          }
          if ((status.status !== 'none' && status.status !== 'setup') || Date.now() > deadline) {
            this.options.logger.info({ vmId: id, uri: request.uri }, 'migration started');
            return status;
          }
          await sleep(20);
        }
      } catch (error) {
        entry.migration = mirrored ? { role: 'source', mirror: true } : null;
        throw asQemuFailure(error, 'starting the migration failed', 'MIGRATION_FAILED');
      }
    });
  }

  /**
   * Source, shared-nothing: starts mirroring the VM's local disk into the target's NBD export
   * while the guest runs. A repeat call answers the running mirror.
   */
  migrationMirror(id: string, request: AgentMirrorRequest): Promise<AgentMigrationStatus> {
    return this.queued(id, async () => {
      const migration = this.requireMigration();
      const entry = this.entry(id);
      if (entry.spec.pool === 'shared') {
        throw new DomainError(
          'VALIDATION_FAILED',
          `VM ${id} has its disk on the shared pool: there is nothing to mirror`,
          { id },
        );
      }
      const qemu = this.requireRunning(id, this.liveQemu(entry), 'mirror the disk of');
      try {
        const qmp = await qemu.qmp();
        const current = await readMirror(qmp);
        if (current !== undefined && current.status !== 'concluded') {
          return { ...statusOfQueryMigrate(await queryMigrate(qmp)), mirror: current };
        }
        // A job an earlier failed run left behind.
        if (current !== undefined) await abortMirror(qmp);
        entry.migration = { role: 'source', mirror: true };
        await startMirror(qmp, request, migration.tlsDir);
        this.options.logger.info({ vmId: id, nbd: request.nbd }, 'disk mirror started');
        const mirror = await readMirror(qmp);
        return {
          ...statusOfQueryMigrate(await queryMigrate(qmp)),
          ...(mirror === undefined ? {} : { mirror }),
        };
      } catch (error) {
        throw asQemuFailure(error, 'starting the disk mirror failed', 'MIGRATION_FAILED');
      }
    });
  }

  /**
   * Source, shared-nothing, paused by QEMU before the switch-over: ends the mirror in sync, removes
   * the NBD client node, and lets the migration finish (`migrate-continue`).
   */
  migrationSwitchover(id: string): Promise<AgentMigrationStatus> {
    return this.queued(id, async () => {
      const entry = this.entry(id);
      const qemu = this.requireRunning(id, this.liveQemu(entry), 'switch over');
      try {
        const qmp = await qemu.qmp();
        const current = statusOfQueryMigrate(await queryMigrate(qmp));
        if (current.status !== 'pre-switchover') {
          throw new DomainError(
            'VM_INVALID_STATE',
            `the migration of VM ${id} is ${current.status}, not waiting at the switch-over`,
            { id, status: current.status },
          );
        }
        const mirror = await finishMirror(qmp);
        await qmp.executeRaw('migrate-continue', { state: 'pre-switchover' });
        this.options.logger.info({ vmId: id, mirror }, 'disk in sync; switching over');
        return statusOfQueryMigrate(await queryMigrate(qmp));
      } catch (error) {
        throw asQemuFailure(error, 'the switch-over failed', 'MIGRATION_FAILED');
      }
    });
  }

  /**
   * Target of a cold migration: a fresh disk for a VM this host does not know (an overlay on this
   * host's copy of the base image, pulled first), exported writable over NBD by a
   * qemu-storage-daemon on the cluster address. The VM is not known here until the server hands
   * over its spec (after `migrationDiskDone`). A repeat call answers the same export.
   */
  migrationDiskIncoming(request: AgentDiskIncomingRequest): Promise<AgentNbdExport> {
    const { spec, tls } = request;
    return this.queued(spec.id, async () => {
      const migration = this.requireMigration();
      const running = this.incomingDisks.get(spec.id);
      if (running) return running.nbd;
      refuseLocalDataDisks(spec);
      if (this.vms.has(spec.id)) {
        throw new DomainError('VM_INVALID_STATE', `VM ${spec.id} is already on this host`, {
          id: spec.id,
        });
      }
      if (spec.pool === 'shared') {
        throw new DomainError('VALIDATION_FAILED', `VM ${spec.id} has no local disk to copy`, {
          id: spec.id,
        });
      }
      if (tls && migration.tlsDir === null) {
        throw new DomainError('MIGRATION_NOT_POSSIBLE', 'this host has no TLS credentials');
      }
      const files = this.options.stateDir.files(spec.id);
      // What an earlier failed copy left: this host does not know the VM, so it is not its disk.
      await rm(files.dir, { recursive: true, force: true });
      try {
        await this.ensureDisk(spec);
        const daemon = await DiskDaemon.start({
          disk: this.diskPath(spec),
          socket: join(files.dir, 'disk-copy.sock'),
          ...(tls && migration.tlsDir !== null
            ? { tls: { dir: migration.tlsDir, endpoint: 'server' as const } }
            : {}),
        });
        try {
          const nbd = await startNbdExport(daemon.qmp, migration.address, tls);
          this.incomingDisks.set(spec.id, { daemon, nbd, spec });
          this.options.logger.info({ vmId: spec.id, nbd }, 'waiting for a disk copy');
          return nbd;
        } catch (error) {
          await daemon.close();
          throw error;
        }
      } catch (error) {
        await rm(files.dir, { recursive: true, force: true });
        throw asQemuFailure(error, 'preparing the disk copy failed', 'MIGRATION_FAILED');
      }
    });
  }

  /** Target of a cold migration, once the source's copy ended: closes the disk, says its size. */
  migrationDiskDone(id: string): Promise<AgentDiskCopy> {
    return this.queued(id, async () => {
      const incoming = this.incomingDisks.get(id);
      if (!incoming) {
        throw new DomainError('VM_INVALID_STATE', `no disk copy of VM ${id} is waiting here`, {
          id,
        });
      }
      await stopNbdExport(incoming.daemon.qmp);
      await incoming.daemon.close();
      this.incomingDisks.delete(id);
      return { allocatedBytes: await allocatedTopBytes(this.diskPath(incoming.spec)) };
    });
  }

  /**
   * Source of a cold migration: the stopped VM's disk, opened by a qemu-storage-daemon, mirrored
   * into the target's export until in sync, then closed. Answers when the copy is whole; the VM
   * cannot start meanwhile (its actions wait in its queue).
   */
  migrationDiskOutgoing(id: string, request: AgentMirrorRequest): Promise<AgentDiskCopy> {
    return this.queued(id, async () => {
      const migration = this.requireMigration();
      const entry = this.entry(id);
      if (this.liveQemu(entry)) {
        throw new DomainError('VM_INVALID_STATE', `VM ${id} runs: only a stopped VM is copied`, {
          id,
        });
      }
      if (entry.spec.pool === 'shared') {
        throw new DomainError('VALIDATION_FAILED', `VM ${id} has no local disk to copy`, { id });
      }
      const disk = this.diskPath(entry.spec);
      const daemon = await DiskDaemon.start({
        disk,
        socket: join(this.options.stateDir.files(id).dir, 'disk-copy.sock'),
      });
      try {
        await startMirror(daemon.qmp, request, migration.tlsDir);
        const deadline = Date.now() + 3_600_000;
        for (;;) {
          const mirror = await readMirror(daemon.qmp);
          if (mirror?.ready) break;
          if (mirror === undefined || mirror.error !== undefined || mirror.status === 'concluded') {
            throw new DomainError(
              'MIGRATION_FAILED',
              `copying the disk of VM ${id} failed: ${mirror?.error ?? mirror?.status ?? 'the job is gone'}`,
              { id },
            );
          }
          if (Date.now() > deadline) {
            throw new DomainError('MIGRATION_FAILED', `copying the disk of VM ${id} took too long`);
          }
          await sleep(100);
        }
        const done = await finishMirror(daemon.qmp);
        this.options.logger.info({ vmId: id, bytes: done.doneBytes }, 'disk copied');
        await daemon.close();
        return { allocatedBytes: await allocatedTopBytes(disk), copiedBytes: done.doneBytes };
      } catch (error) {
        await abortMirror(daemon.qmp).catch(() => undefined);
        throw asQemuFailure(error, 'copying the disk failed', 'MIGRATION_FAILED');
      } finally {
        await daemon.close();
      }
    });
  }

  /** query-migrate of this host's QEMU (source or target). */
  async migrationStatus(id: string): Promise<AgentMigrationStatus> {
    const entry = this.entry(id);
    const qemu = this.liveQemu(entry);
    if (!qemu) {
      // The incoming QEMU exits when the stream breaks.
      return entry.migration?.role === 'target'
        ? { status: 'failed', error: entry.lastExit?.reason ?? 'the incoming QEMU exited' }
        : { status: 'none' };
    }
    try {
      const qmp = await qemu.qmp();
      const role = entry.migration;
      const [info, { status: runState }, mirror] = await Promise.all([
        queryMigrate(qmp),
        qmp.execute('query-status'),
        role?.role === 'source' && role.mirror ? readMirror(qmp) : undefined,
      ]);
      return {
        ...statusOfQueryMigrate(info),
        runState,
        ...(mirror === undefined ? {} : { mirror }),
      };
    } catch (error) {
      throw asQemuFailure(error, 'query-migrate failed');
    }
  }

  /** Source: migrate-set-parameters while the stream runs. */
  async migrationTune(id: string, tuning: AgentMigrationTuning): Promise<AgentMigrationStatus> {
    const entry = this.entry(id);
    const qemu = this.requireRunning(id, this.liveQemu(entry), 'tune the migration of');
    try {
      const qmp = await qemu.qmp();
      const parameters = tuningParameters(tuning);
      if (Object.keys(parameters).length > 0) {
        await qmp.executeRaw('migrate-set-parameters', parameters);
      }
      return statusOfQueryMigrate(await queryMigrate(qmp));
    } catch (error) {
      throw asQemuFailure(error, 'migrate-set-parameters failed');
    }
  }

  /** Source: switches a running pre-copy to post-copy (postcopy-ram must have been set). */
  async migrationPostcopy(id: string): Promise<AgentMigrationStatus> {
    const entry = this.entry(id);
    const qemu = this.requireRunning(id, this.liveQemu(entry), 'switch to post-copy');
    try {
      const qmp = await qemu.qmp();
      const current = statusOfQueryMigrate(await queryMigrate(qmp));
      if (isPostcopyStatus(current.status)) return current;
      if (current.status !== 'active') {
        throw new DomainError(
          'VM_INVALID_STATE',
          `no pre-copy migration of VM ${id} runs here (status ${current.status})`,
          { id, status: current.status },
        );
      }
      if (!(await postcopyEnabled(qmp))) {
        throw new DomainError(
          'VM_INVALID_STATE',
          `the migration of VM ${id} started without postcopy-ram: it cannot switch to post-copy`,
          { id },
        );
      }
      await qmp.executeRaw('migrate-start-postcopy');
      // The switch happens at the stream's next step: answer once it has (or the run ended).
      const deadline = Date.now() + 10_000;
      for (;;) {
        const status = statusOfQueryMigrate(await queryMigrate(qmp));
        if (status.status !== 'active' || Date.now() > deadline) return status;
        await sleep(20);
      }
    } catch (error) {
      throw asQemuFailure(error, 'migrate-start-postcopy failed', 'MIGRATION_FAILED');
    }
  }

  /**
   * Abort. Source: migrate_cancel and wait until QEMU says cancelled (the guest keeps running
   * here); refused once switched to post-copy. Target: quit the incoming QEMU and forget the VM
   * (never its shared disk). Answers the final status: `completed` means it was too late.
   */
  migrationAbort(id: string): Promise<AgentMigrationStatus> {
    return this.queued(id, async () => {
      const entry = this.vms.get(id);
      const disk = this.incomingDisks.get(id);
      if (!entry && disk) {
        // A cold copy this host received: the disk was never the VM's here.
        this.incomingDisks.delete(id);
        await disk.daemon.close();
        await rm(this.options.stateDir.files(id).dir, { recursive: true, force: true });
        return { status: 'cancelled' };
      }
      if (!entry) return { status: 'none' };
      const qemu = this.liveQemu(entry);
      // An incoming QEMU ends by itself when the source cancels: it may be exiting right now.
      const runState = qemu
        ? await qemu.queryStatus(STATUS_TIMEOUT_MS).then(
            (info) => info.status,
            async (error: unknown) => {
              if (await qemu.waitForExit(2_000)) return null;
              throw asQemuFailure(error, 'query-status failed');
            },
          )
        : null;
      if (!qemu || runState === null) {
        if (entry.migration?.role !== 'target') return { status: 'none' };
        await this.forget(id, entry);
        return { status: 'cancelled' };
      }
      if (runState === 'inmigrate') {
        await this.forget(id, entry);
        return { status: 'cancelled' };
      }
      const qmp = await qemu.qmp();
      let current = statusOfQueryMigrate(await queryMigrate(qmp));
      if (isPostcopyStatus(current.status)) {
        throw new DomainError(
          'VM_INVALID_STATE',
          `the migration of VM ${id} has switched to post-copy: it can no longer be cancelled`,
          { id, status: current.status },
        );
      }
      const role = entry.migration;
      const mirrored = role?.role === 'source' && role.mirror === true;
      if (!isRunningStatus(current.status)) {
        // `completed` may be this QEMU's own arrival by an earlier migration: the run state says
        // whether it handed the guest over (postmigrate) or still runs it.
        if (role?.role === 'source' && runState !== 'postmigrate') {
          if (mirrored) await abortMirror(qmp);
          entry.migration = null;
        }
        return current;
      }
      await qmp.executeRaw('migrate_cancel');
      const deadline = Date.now() + 30_000;
      while (isRunningStatus(current.status)) {
        if (Date.now() > deadline) {
          throw new DomainError('QEMU_FAILED', `QEMU did not cancel the migration of VM ${id}`, {
            id,
            status: current.status,
          });
        }
        await sleep(50);
        current = statusOfQueryMigrate(await queryMigrate(qmp));
      }
      if (current.status !== 'completed') {
        if (mirrored) await abortMirror(qmp);
        entry.migration = null;
      }
      this.options.logger.info({ vmId: id, status: current.status }, 'migration aborted');
      return current;
    });
  }

  /**
   * Source, after success: QEMU sits in `postmigrate`; quit it and forget the VM here (never its
   * shared disk). Refused while this QEMU still runs the guest or still sends it. Idempotent.
   */
  migrationComplete(id: string): Promise<void> {
    return this.queued(id, async () => {
      const entry = this.vms.get(id);
      if (!entry) return;
      const qemu = this.liveQemu(entry);
      if (qemu) {
        const { status: runState } = await qemu.queryStatus(STATUS_TIMEOUT_MS);
        const migrate = statusOfQueryMigrate(await queryMigrate(await qemu.qmp()));
        if (runState !== 'postmigrate' || migrate.status !== 'completed') {
          throw new DomainError(
            'VM_INVALID_STATE',
            `VM ${id} is ${runState} here (migration ${migrate.status}): the migration did not complete`,
            { id, runState, status: migrate.status },
          );
        }
        this.options.logger.info({ vmId: id }, 'migration completed; retiring this copy');
      }
      await this.forget(id, entry);
    });
  }

  /**
   * calc-dirty-rate on the running guest, over `seconds`. A request made while one is being
   * measured gets that measurement (its `measuredSeconds` says over how long).
   */
  dirtyRate(id: string, seconds: number): Promise<AgentDirtyRateReply> {
    const running = this.dirtyRates.get(id);
    if (running !== undefined) return running;
    const measurement = this.measureDirtyRate(id, seconds).finally(() =>
      this.dirtyRates.delete(id),
    );
    this.dirtyRates.set(id, measurement);
    return measurement;
  }

  private async measureDirtyRate(id: string, seconds: number): Promise<AgentDirtyRateReply> {
    const entry = this.entry(id);
    const qemu = this.requireRunning(id, this.liveQemu(entry), 'measure the dirty rate of');
    try {
      const { status: runState } = await qemu.queryStatus(STATUS_TIMEOUT_MS);
      // A paused guest dirties nothing; QEMU would measure for nothing.
      const [measured, dataBytes, diskBytes] = await Promise.all([
        runState === 'paused'
          ? { dirtyRateBytes: 0, measuredSeconds: 0 }
          : measureDirtyRate(await qemu.qmp(), seconds),
        guestRamDataBytes(qemu.pid, entry.spec.memoryMiB),
        entry.spec.pool === 'shared' ? undefined : allocatedTopBytes(this.diskPath(entry.spec)),
      ]);
      return {
        ...measured,
        ...(dataBytes === undefined ? {} : { dataBytes }),
        ...(diskBytes === undefined ? {} : { diskBytes }),
      };
    } catch (error) {
      throw asQemuFailure(error, 'calc-dirty-rate failed');
    }
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

  /**
   * Runs `work` in the VM's action queue with what disk-level work needs (snapshots and clones,
   * snapshots.ts): its spec and disk, its QEMU if one runs, and a way to stop and start it.
   * Refused while the VM migrates.
   */
  withVm<T>(id: string, work: (vm: ManagedVm) => Promise<T>): Promise<T> {
    return this.queued(id, async () => {
      const entry = this.entry(id);
      if (this.liveQemu(entry)) await this.refuseWhileMigrating(id, 'snapshot or clone');
      return work({
        spec: entry.spec,
        disk: this.diskPath(entry.spec),
        diskOf: (spec) => this.diskPath(spec),
        qemu: () => this.liveQemu(entry),
        status: () => this.status(id),
        powerOff: async () => {
          await this.stop(id, entry, { action: 'stop', force: true });
          await entry.exitRecorded;
        },
        start: (extraArgs = []) =>
          this.launch(id, entry, 'start', new StartSteps(), Promise.resolve(), extraArgs),
      });
    });
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

  private start(
    id: string,
    entry: VmEntry,
    steps = new StartSteps(),
    diskReady: Promise<void> = Promise.resolve(),
  ): Promise<void> {
    return this.launch(id, entry, 'start', steps, diskReady);
  }

  /**
   * The one QEMU launch path: a normal start, or a target waiting for a migration (the same
   * command line, so the same machine, CPU and NIC, plus `-incoming defer`).
   */
  private async launch(
    id: string,
    entry: VmEntry,
    mode: 'start' | 'incoming',
    steps = new StartSteps(),
    diskReady: Promise<void> = Promise.resolve(),
    extraArgs: readonly string[] = [],
  ): Promise<void> {
    const { stateDir, logger } = this.options;
    const files = stateDir.files(id);
    entry.transition = mode === 'incoming' ? 'migrating' : 'starting';
    try {
      // Independent steps, side by side (each costs a spawn or a few file system calls); all
      // settle before a failure is acted on, so that none is left running behind the error.
      const image = steps.track('image', this.bootFiles(entry.spec));
      const tap = steps.track('nic', Promise.resolve(this.options.network?.prepareNic(entry.spec)));
      const seed = steps.track('seed', this.cloudInitSeed(entry.spec, files.dir));
      await Promise.allSettled([image, tap, seed, diskReady]);
      const [boot, nic, cloudInitSeed] = await Promise.all([image, tap, seed, diskReady]);
      steps.lap('prepare');
      const disk = this.diskPath(entry.spec);
      // Data disks are created if missing, never on a migration target (the source holds them).
      const hardware = await prepareHardware(entry.spec, {
        diskPath: disk,
        create: mode === 'start',
        logger,
        ...(this.options.network && { network: this.options.network }),
      });
      const args = buildQemuArgs(
        entry.spec,
        { ...files, disk, ...boot, ...(cloudInitSeed !== undefined && { cloudInitSeed }) },
        this.options.accelerator,
        {
          ...(this.options.cpuModel === undefined ? {} : { cpuModel: this.options.cpuModel }),
          ...(nic && { nic }),
          hardware,
        },
      );
      if (mode === 'incoming') args.push('-incoming', 'defer');
      args.push(...extraArgs);
      const qemu = await QemuInstance.launch({
        vmId: id,
        args,
        files,
        logger,
        ...(this.options.qemuBinary === undefined ? {} : { qemuBinary: this.options.qemuBinary }),
        onSpawn: () => steps.lap('spawn'),
      });
      steps.lap('qmp');
      entry.lastExit = null;
      await stateDir.clearExit(id);
      this.adopt(id, entry, qemu);
      logger.info(
        { vmId: id, name: entry.spec.name, mode, pid: qemu.pid, steps: steps.steps },
        'VM started',
      );
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
      const extraReleased = releaseHardware(entry.spec, this.options.network);
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
      await extraReleased;
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

  /**
   * The VM's cloud-init seed, written anew at each launch from the spec (so a migration target
   * or a restarted host makes the same one); none without cloud-init data.
   */
  private async cloudInitSeed(spec: AgentVmSpec, dir: string): Promise<string | undefined> {
    if (spec.cloudInit === undefined) return undefined;
    const path = join(dir, CLOUD_INIT_SEED_FILE);
    await writeCloudInitSeed(path, spec.cloudInit);
    return path;
  }

  /** Kernel images get a blank qcow2 of diskGiB; disk images an overlay on the image's disk. */
  private async ensureDisk(spec: AgentVmSpec): Promise<void> {
    const disk = this.diskPath(spec);
    if (await exists(disk)) return;
    await mkdir(dirname(disk), { recursive: true });
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

  private diskPath(spec: Pick<AgentVmSpec, 'id' | 'pool'>): string {
    return vmDiskPath(this.options.stateDir.paths, spec);
  }

  private liveQemu(entry: VmEntry): QemuInstance | null {
    return entry.qemu && !entry.qemu.hasExited ? entry.qemu : null;
  }

  private requireQemu(entry: VmEntry): QemuInstance {
    const qemu = this.liveQemu(entry);
    if (!qemu) throw new DomainError('QEMU_FAILED', `QEMU of VM ${entry.spec.id} exited`);
    return qemu;
  }

  private requireMigration(): { address: string; tlsDir: string | null } {
    const { migration } = this.options;
    if (!migration) {
      throw new DomainError('MIGRATION_NOT_POSSIBLE', 'this agent was started without migration');
    }
    return migration;
  }

  private async refuseWhileMigrating(id: string, action: string): Promise<void> {
    if ((await this.status(id)).state === 'migrating') {
      throw new DomainError(
        'VM_INVALID_STATE',
        `cannot ${action} VM ${id} while it migrates: abort or complete the migration first`,
        { id, action, state: 'migrating' },
      );
    }
  }

  /**
   * Whether the VM migrates now: a target waiting for or receiving the stream (`inmigrate`), a
   * source that has handed over the guest (`postmigrate`, until `complete`), or a source whose
   * stream runs. Clears the role once QEMU shows the migration over.
   */
  private async isMigrating(
    id: string,
    entry: VmEntry,
    qemu: QemuInstance,
    runState: string,
  ): Promise<boolean> {
    if (runState === 'inmigrate' || runState === 'postmigrate' || runState === 'finish-migrate') {
      return true;
    }
    const role = entry.migration;
    if (!role) return false;
    if (role.role === 'target') {
      // The guest runs here now: its disk no longer takes writes from anywhere else.
      entry.migration = null;
      if (role.nbd !== undefined) await stopNbdExport(await qemu.qmp());
      await rm(join(this.options.stateDir.files(id).dir, INCOMING_MARKER), { force: true });
      return false;
    }
    const qmp = await qemu.qmp();
    const { status } = statusOfQueryMigrate(await queryMigrate(qmp));
    if (isRunningStatus(status) || status === 'completed') return true;
    // The disk is being mirrored before the stream starts.
    if (role.mirror && (await readMirror(qmp)) !== undefined) return true;
    entry.migration = null;
    return false;
  }

  /** What a QEMU found running says of a migration in progress (after an agent restart). */
  private async migrationRoleOf(id: string, qemu: QemuInstance): Promise<MigrationRole | null> {
    if (!qemu.connected) return null;
    try {
      const { status } = await qemu.queryStatus(STATUS_TIMEOUT_MS);
      const info = await queryMigrate(await qemu.qmp());
      if (status === 'inmigrate') {
        const address = this.options.migration?.address ?? '';
        const port = boundPort(info);
        return {
          role: 'target',
          uri: port === null || address === '' ? '' : `tcp:${uriHost(address)}:${port}`,
          tlsHostname: address,
        };
      }
      const migrate = statusOfQueryMigrate(info);
      const mirror = (await readMirror(await qemu.qmp())) !== undefined;
      if (status === 'postmigrate' || isRunningStatus(migrate.status) || mirror) {
        return { role: 'source', mirror };
      }
      return null;
    } catch (error) {
      this.options.logger.warn({ vmId: id, error: describe(error) }, 'cannot read migration state');
      return null;
    }
  }

  private async configureMigration(
    qmp: QmpClient,
    side: MigrationSide,
    spec: AgentVmSpec,
    settings: AgentIncomingRequest['settings'],
    tlsHostname?: string,
    mirror = false,
  ): Promise<void> {
    const tlsDir = this.options.migration?.tlsDir ?? null;
    try {
      if (settings.tls && tlsDir !== null) {
        await addTlsCreds(qmp, tlsDir, side === 'target' ? 'server' : 'client');
      }
      await qmp.executeRaw('migrate-set-capabilities', {
        capabilities: capabilitiesOf(settings, side, { mirror }),
      });
      await qmp.executeRaw(
        'migrate-set-parameters',
        parametersOf(settings, side, {
          memoryMiB: spec.memoryMiB,
          ...(tlsHostname === undefined ? {} : { tlsHostname }),
        }),
      );
    } catch (error) {
      if (error instanceof QmpCommandError) {
        throw new DomainError(
          'VALIDATION_FAILED',
          `QEMU refused the migration settings: ${error.desc}`,
          { qmp: error.command },
        );
      }
      throw error;
    }
  }

  /**
   * Lets go of a VM that now lives elsewhere (or never arrived): quits its QEMU and removes this
   * agent's VM folder, with a local disk in it (callers check that this copy is not the guest's:
   * a source in postmigrate, or a target that never ran it). Never touches the shared pool: that
   * disk belongs to the host running it.
   */
  private async forget(id: string, entry: VmEntry): Promise<void> {
    const { stateDir } = this.options;
    const qemu = this.liveQemu(entry);
    if (qemu) await qemu.quit();
    if (this.vms.get(id) === entry) this.vms.delete(id);
    await entry.exitRecorded;
    await stateDir.remove(id);
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An address inside a QEMU URI: IPv6 in brackets. */
function uriHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function asQemuFailure(
  error: unknown,
  what: string,
  code: 'QEMU_FAILED' | 'MIGRATION_FAILED' = 'QEMU_FAILED',
): Error {
  if (error instanceof DomainError) return error;
  if (error instanceof QmpError) {
    return new DomainError(code, `${what}: ${error.message}`, { qmp: error.code });
  }
  return error instanceof Error ? error : new Error(String(error));
}

function hardwareOfSpec(spec: AgentVmSpec): NonNullable<AgentVmSpec['hardware']> {
  return (
    spec.hardware ?? {
      maxCpus: spec.cpus,
      maxMemoryMiB: spec.memoryMiB,
      hotCpus: 0,
      dimmsMiB: [],
      disks: [],
      nics: [],
    }
  );
}

/** Only the boot disk is mirrored or copied to another host; data disks must be shared. */
function refuseLocalDataDisks(spec: AgentVmSpec): void {
  const disks = spec.hardware?.disks ?? [];
  if (spec.pool !== 'shared' && disks.length > 0) {
    throw new DomainError(
      'MIGRATION_NOT_POSSIBLE',
      `VM ${spec.id} has data disks (${disks.map((d) => d.name).join(', ')}) in the local pool: only its boot disk moves between hosts; remove them or use the shared pool`,
      { id: spec.id, disks: disks.map((d) => d.name) },
    );
  }
}
