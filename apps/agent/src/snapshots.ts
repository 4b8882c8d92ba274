import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type {
  AgentCloneReply,
  AgentCloneRequest,
  AgentSnapshot,
  AgentSnapshotCreate,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';
import {
  allocatedTopBytes,
  assertSnapshotName,
  copyDisk,
  createOverlay,
  createQcow2,
  diskSnapshot,
  imageInfo,
  listDiskSnapshots,
  type QemuInstance,
} from '@novacron/qemu';
import { QmpError, type QmpClient } from '@novacron/qmp';
import type { AgentLogger } from './logger.js';
import type { ManagedVm, VmManager } from './vm-manager.js';

// Snapshots and clones of a VM's disk (docs/adr/0022-snapshots-clones-templates.md). Snapshots
// are qcow2 internal snapshots of the VM's disk: live through QMP (snapshot-save/-load jobs with
// the guest's RAM, blockdev-snapshot-internal-sync for the disk alone), offline with qemu-img.

/** The qcow2 node of the VM's disk in QEMU (packages/qemu command-line.ts). */
const DISK_NODE = 'disk0';
const JOB_TIMEOUT_MS = 30 * 60_000;
const CLONE_NODE = 'clone0';

export class DiskSnapshots {
  constructor(
    private readonly vms: VmManager,
    private readonly logger: AgentLogger,
  ) {}

  /** The snapshots the VM's disk holds, read from the disk itself. */
  list(id: string): Promise<AgentSnapshot[]> {
    return this.vms.withVm(id, async (vm) => {
      const state = (await vm.status()).state;
      return (await listDiskSnapshots(vm.disk)).map((s) => ({
        name: s.name,
        vmStateBytes: s.vmStateBytes,
        vmState: state,
      }));
    });
  }

  /**
   * Takes a snapshot. A running or paused VM keeps running: with `memory`, QEMU saves RAM and
   * devices into the disk (the guest pauses for the save), else only the disk's state is frozen.
   * A stopped VM has only its disk: `memory` is refused.
   */
  create(id: string, request: AgentSnapshotCreate): Promise<AgentSnapshot> {
    assertSnapshotName(request.name);
    return this.vms.withVm(id, async (vm) => {
      if ((await listDiskSnapshots(vm.disk)).some((s) => s.name === request.name)) {
        throw new DomainError(
          'SNAPSHOT_NAME_TAKEN',
          `VM ${id} already has a snapshot named ${request.name} on its disk`,
          { snapshot: request.name },
        );
      }
      const qemu = vm.qemu();
      const state = (await vm.status()).state;
      if (qemu === null) {
        if (request.memory) {
          throw new DomainError(
            'VM_INVALID_STATE',
            `VM ${id} is ${state}: a snapshot with memory needs a running or paused guest`,
            { state, allowed: ['running', 'paused'] },
          );
        }
        await diskSnapshot('create', vm.disk, request.name);
      } else {
        const qmp = await qemu.qmp();
        if (request.memory) {
          await runJob(qmp, 'snapshot-save', {
            tag: request.name,
            vmstate: DISK_NODE,
            devices: [DISK_NODE],
          });
        } else {
          await command(qmp, 'blockdev-snapshot-internal-sync', {
            device: DISK_NODE,
            name: request.name,
          });
        }
      }
      const taken = (await listDiskSnapshots(vm.disk)).find((s) => s.name === request.name);
      this.logger.info(
        { vmId: id, snapshot: request.name, memory: request.memory },
        'snapshot taken',
      );
      return { name: request.name, vmStateBytes: taken?.vmStateBytes ?? 0, vmState: state };
    });
  }

  /**
   * Returns the VM to the snapshot. With saved RAM: a running or paused guest continues from the
   * snapshot (snapshot-load), a stopped VM starts there (`-loadvm`). Disk only: a running guest
   * is powered off (its RAM no longer matches the disk), the disk reverted, and the VM started
   * again from it; a stopped VM stays stopped.
   */
  revert(id: string, name: string): Promise<AgentSnapshot> {
    assertSnapshotName(name);
    return this.vms.withVm(id, async (vm) => {
      const snapshot = await requireSnapshot(id, vm, name);
      const qemu = vm.qemu();
      const withMemory = snapshot.vmStateBytes > 0;
      if (qemu !== null && withMemory) {
        await runJob(await qemu.qmp(), 'snapshot-load', {
          tag: name,
          vmstate: DISK_NODE,
          devices: [DISK_NODE],
        });
      } else if (qemu !== null) {
        await vm.powerOff();
        await diskSnapshot('apply', vm.disk, name);
        await vm.start();
      } else if (withMemory) {
        await vm.start(['-loadvm', name]);
      } else {
        await diskSnapshot('apply', vm.disk, name);
      }
      const state = (await vm.status()).state;
      this.logger.info({ vmId: id, snapshot: name, withMemory, state }, 'reverted to snapshot');
      return { name, vmStateBytes: snapshot.vmStateBytes, vmState: state };
    });
  }

  /** Deletes a snapshot from the disk; one the disk does not hold is already gone. */
  delete(id: string, name: string): Promise<void> {
    assertSnapshotName(name);
    return this.vms.withVm(id, async (vm) => {
      if (!(await listDiskSnapshots(vm.disk)).some((s) => s.name === name)) return;
      const qemu = vm.qemu();
      if (qemu === null) await diskSnapshot('delete', vm.disk, name);
      else {
        await command(await qemu.qmp(), 'blockdev-snapshot-delete-internal-sync', {
          device: DISK_NODE,
          name,
        });
      }
      this.logger.info({ vmId: id, snapshot: name }, 'snapshot deleted');
    });
  }

  /**
   * Makes the disk of a new VM (`request.spec`) from the source VM's: an overlay on it (linked,
   * the source is a stopped template), a copy of one of its snapshots, a copy of the stopped
   * disk, or a point-in-time copy of a running one (blockdev-backup sync=top). Any layer below
   * the source's own (its base image) is shared, not copied. Runs in the source's queue.
   */
  clone(sourceId: string, request: AgentCloneRequest): Promise<AgentCloneReply> {
    return this.vms.withVm(sourceId, async (vm) => {
      const target = vm.diskOf(request.spec);
      if (request.spec.id === sourceId) {
        throw new DomainError('VALIDATION_FAILED', 'a VM cannot be cloned onto itself');
      }
      const temporary = `${target}.cloning`;
      await mkdir(dirname(target), { recursive: true });
      await rm(temporary, { force: true });
      const qemu = vm.qemu();
      const info = await imageInfo(vm.disk);
      const backing =
        info.backingFile === null
          ? undefined
          : { file: info.backingFile, format: info.backingFormat ?? 'qcow2' };
      let method: AgentCloneReply['method'];
      try {
        if (request.linked) {
          if (qemu !== null) {
            throw new DomainError(
              'VM_INVALID_STATE',
              `VM ${sourceId} runs: only a stopped template can be the base of a linked clone`,
            );
          }
          await createOverlay(temporary, vm.disk, 'qcow2', info.virtualSizeBytes);
          method = 'linked';
        } else if (request.snapshot !== undefined) {
          await requireSnapshot(sourceId, vm, request.snapshot);
          // A snapshot's clusters are never written by the running VM: safe to read beside it.
          await copyDisk(vm.disk, temporary, {
            snapshot: request.snapshot,
            ...(backing && { backing }),
            forceShare: qemu !== null,
          });
          method = 'copy';
        } else if (qemu === null) {
          await copyDisk(vm.disk, temporary, backing ? { backing } : {});
          method = 'copy';
        } else {
          await backupRunningDisk(qemu, temporary, info.virtualSizeBytes, backing);
          method = 'backup';
        }
        // Made under another name and renamed: a failed clone never leaves a disk in place.
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
      const allocatedBytes = await allocatedTopBytes(target);
      this.logger.info(
        { vmId: request.spec.id, source: sourceId, method, allocatedBytes },
        'clone disk made',
      );
      return { method, allocatedBytes };
    });
  }
}

async function requireSnapshot(id: string, vm: ManagedVm, name: string) {
  const snapshot = (await listDiskSnapshots(vm.disk)).find((s) => s.name === name);
  if (snapshot === undefined) {
    throw new DomainError('SNAPSHOT_NOT_FOUND', `VM ${id} has no snapshot named ${name}`, {
      snapshot: name,
    });
  }
  return snapshot;
}

/**
 * A crash-consistent copy of a running VM's disk: a fresh qcow2 (on the same base image) added as
 * a node, `blockdev-backup sync=top` into it (copy-before-write keeps the point in time while the
 * guest writes on), then the node removed.
 */
async function backupRunningDisk(
  qemu: QemuInstance,
  path: string,
  sizeBytes: number,
  backing: { file: string; format: string } | undefined,
): Promise<void> {
  if (backing === undefined) await createQcow2(path, sizeBytes);
  else await createOverlay(path, backing.file, backing.format, sizeBytes);
  const qmp = await qemu.qmp();
  // A node a failed earlier clone left behind would block the name.
  await qmp.executeRaw('blockdev-del', { 'node-name': CLONE_NODE }).catch(() => undefined);
  await command(qmp, 'blockdev-add', {
    driver: 'qcow2',
    'node-name': CLONE_NODE,
    file: { driver: 'file', filename: path },
  });
  try {
    await runJob(qmp, 'blockdev-backup', {
      device: DISK_NODE,
      target: CLONE_NODE,
      sync: 'top',
      'auto-dismiss': false,
    });
  } finally {
    await qmp.executeRaw('blockdev-del', { 'node-name': CLONE_NODE }).catch(() => undefined);
  }
}

interface JobInfo {
  id: string;
  status: string;
  error?: string;
}

/**
 * Starts a QMP job (`job-id` added) and waits until it concludes; its error, if any, becomes
 * QEMU_FAILED with QEMU's words. The concluded job is dismissed.
 */
async function runJob(qmp: QmpClient, name: string, args: Record<string, unknown>): Promise<void> {
  const jobId = `nc-${name}-${Date.now().toString(36)}`;
  await command(qmp, name, { 'job-id': jobId, ...args });
  const deadline = Date.now() + JOB_TIMEOUT_MS;
  for (;;) {
    const jobs = (await qmp.executeRaw('query-jobs')) as JobInfo[];
    const job = jobs.find((j) => j.id === jobId);
    if (job === undefined) return;
    if (job.status === 'concluded') {
      await qmp.executeRaw('job-dismiss', { id: jobId }).catch(() => undefined);
      if (job.error !== undefined) {
        throw new DomainError('QEMU_FAILED', `QEMU ${name} failed: ${job.error}`, { qmp: name });
      }
      return;
    }
    if (Date.now() > deadline) {
      await qmp.executeRaw('job-cancel', { id: jobId }).catch(() => undefined);
      throw new DomainError('QEMU_FAILED', `QEMU ${name} did not finish in time`, { qmp: name });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function command(qmp: QmpClient, name: string, args: Record<string, unknown>) {
  try {
    return await qmp.executeRaw(name, args);
  } catch (error) {
    if (error instanceof QmpError) {
      throw new DomainError('QEMU_FAILED', `QEMU ${name} failed: ${error.message}`, { qmp: name });
    }
    throw error;
  }
}
