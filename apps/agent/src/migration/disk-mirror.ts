import { createServer } from 'node:net';
import type { AgentMirrorRequest, AgentMirrorStatus, AgentNbdExport } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { QmpCommandError, type QmpClient } from '@novacron/qmp';
import { MIGRATION_TLS_OBJECT } from './qmp-migration.js';

// The disk side of a shared-nothing live migration (QEMU 7.2, qapi/block-core.json,
// qapi/block-export.json): the target exports its fresh disk over NBD from the incoming QEMU, the
// source mirrors its own overlay into it while the guest runs, and at the switch-over (the source
// paused by `pause-before-switchover`) the mirror is ended in sync before memory finishes.

/** The VM's disk node on both sides (the command line's `-blockdev ... node-name=disk0`). */
export const DISK_NODE = 'disk0';
/** The block job on the source. */
export const MIRROR_JOB = 'novacron-mirror';
/** The NBD client node on the source that writes into the target's export. */
export const MIRROR_TARGET_NODE = 'novacron-mirror-target';
/** The export id (and NBD export name) on the target. */
export const NBD_EXPORT = 'disk0';
/** The source's client credentials for NBD (apart from the stream's, which are re-added per run). */
export const NBD_TLS_OBJECT = 'novacron-nbd-tls';

const JOB_WAIT_MS = 30_000;

/**
 * A port free on `host` now, for `nbd-server-start` (QEMU does not say which port it bound when
 * asked for 0). Another process could take it in between; the caller then fails and retries.
 */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port bound'))));
    });
  });
}

/**
 * Target: serves the incoming QEMU's disk node writable over NBD on `host` (TLS with the
 * migration's server credentials, which verify the client's certificate against the cluster CA).
 * Exporting activates the node, which `-incoming` had left inactive.
 */
export async function startNbdExport(
  qmp: QmpClient,
  host: string,
  tls: boolean,
): Promise<AgentNbdExport> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = await freePort(host);
    try {
      await qmp.executeRaw('nbd-server-start', {
        addr: { type: 'inet', data: { host, port: String(port) } },
        ...(tls ? { 'tls-creds': MIGRATION_TLS_OBJECT } : {}),
      });
      await qmp.executeRaw('block-export-add', {
        type: 'nbd',
        id: NBD_EXPORT,
        'node-name': DISK_NODE,
        name: NBD_EXPORT,
        writable: true,
      });
      return { host, port, export: NBD_EXPORT };
    } catch (error) {
      lastError = error;
      await stopNbdExport(qmp);
      if (!(error instanceof QmpCommandError)) throw error;
    }
  }
  throw lastError;
}

/** Target: removes the export and stops the NBD server; quiet when there is none. */
export async function stopNbdExport(qmp: QmpClient): Promise<void> {
  await qmp.executeRaw('block-export-del', { id: NBD_EXPORT }).catch(ignoreQmpError);
  await qmp.executeRaw('nbd-server-stop').catch(ignoreQmpError);
}

/**
 * Source: an NBD client node on the target's export, then `blockdev-mirror` of the top layer only
 * (the base image is the same file on the target) in `write-blocking` mode: once a region is
 * copied, every guest write reaches the target before it completes, so a guest that keeps
 * writing still converges. The job stays until dismissed so that its error can be read.
 */
export async function startMirror(
  qmp: QmpClient,
  request: AgentMirrorRequest,
  tlsDir: string | null,
): Promise<void> {
  if (request.tls) {
    if (tlsDir === null) {
      throw new DomainError('MIGRATION_NOT_POSSIBLE', 'this host has no TLS credentials');
    }
    await qmp.executeRaw('object-del', { id: NBD_TLS_OBJECT }).catch(ignoreQmpError);
    await qmp.executeRaw('object-add', {
      'qom-type': 'tls-creds-x509',
      id: NBD_TLS_OBJECT,
      dir: tlsDir,
      endpoint: 'client',
      'verify-peer': true,
    });
  }
  await qmp.executeRaw('blockdev-add', {
    driver: 'nbd',
    'node-name': MIRROR_TARGET_NODE,
    server: { type: 'inet', host: request.nbd.host, port: String(request.nbd.port) },
    export: request.nbd.export,
    ...(request.tls ? { 'tls-creds': NBD_TLS_OBJECT, 'tls-hostname': request.tlsHostname } : {}),
  });
  try {
    await qmp.executeRaw('blockdev-mirror', {
      'job-id': MIRROR_JOB,
      device: DISK_NODE,
      target: MIRROR_TARGET_NODE,
      sync: 'top',
      'copy-mode': 'write-blocking',
      'auto-dismiss': false,
    });
  } catch (error) {
    await qmp.executeRaw('blockdev-del', { 'node-name': MIRROR_TARGET_NODE }).catch(ignoreQmpError);
    throw error;
  }
}

interface QueryJob {
  id: string;
  type: string;
  status: string;
  'current-progress': number;
  'total-progress': number;
  error?: string;
}

/** The mirror job as QEMU reports it; undefined when there is none. */
export async function readMirror(qmp: QmpClient): Promise<AgentMirrorStatus | undefined> {
  const jobs = (await qmp.executeRaw('query-jobs')) as QueryJob[];
  const job = jobs.find((j) => j.id === MIRROR_JOB);
  if (job === undefined) return undefined;
  return {
    status: job.status,
    ready: job.status === 'ready',
    doneBytes: job['current-progress'],
    totalBytes: job['total-progress'],
    ...(job.error === undefined ? {} : { error: job.error }),
  };
}

/**
 * Source, paused at the switch-over: ends the READY mirror in sync (`block-job-cancel` of a ready
 * mirror completes it without pivoting), then removes the NBD client node. Throws when the job is
 * not in sync or failed: the caller then cancels the migration and the source keeps the guest.
 */
export async function finishMirror(qmp: QmpClient): Promise<AgentMirrorStatus> {
  const before = await readMirror(qmp);
  if (before?.status !== 'ready') {
    throw new DomainError(
      'MIGRATION_FAILED',
      `the disk mirror is not in sync at the switch-over (${before === undefined ? 'no job' : `${before.status}${before.error ? `: ${before.error}` : ''}`})`,
      { mirror: before ?? null },
    );
  }
  await qmp.executeRaw('block-job-cancel', { device: MIRROR_JOB });
  const done = await waitConcluded(qmp);
  await qmp.executeRaw('job-dismiss', { id: MIRROR_JOB }).catch(ignoreQmpError);
  await qmp.executeRaw('blockdev-del', { 'node-name': MIRROR_TARGET_NODE });
  if (done.error !== undefined || done.doneBytes !== done.totalBytes) {
    throw new DomainError('MIGRATION_FAILED', `the disk mirror ended out of sync: ${done.error}`, {
      mirror: done,
    });
  }
  return done;
}

/** Source, rolling back: cancels the mirror (whatever its state) and removes the client node. */
export async function abortMirror(qmp: QmpClient): Promise<void> {
  const job = await readMirror(qmp);
  if (job !== undefined && job.status !== 'concluded' && job.status !== 'null') {
    await qmp.executeRaw('block-job-cancel', { device: MIRROR_JOB, force: true });
    await waitConcluded(qmp);
  }
  await qmp.executeRaw('job-dismiss', { id: MIRROR_JOB }).catch(ignoreQmpError);
  await qmp.executeRaw('blockdev-del', { 'node-name': MIRROR_TARGET_NODE }).catch(ignoreQmpError);
}

async function waitConcluded(qmp: QmpClient): Promise<AgentMirrorStatus> {
  const deadline = Date.now() + JOB_WAIT_MS;
  for (;;) {
    const job = await readMirror(qmp);
    if (job === undefined) return { status: 'null', ready: false, doneBytes: 0, totalBytes: 0 };
    if (job.status === 'concluded' || job.status === 'null') return job;
    if (Date.now() > deadline) {
      throw new DomainError('QEMU_FAILED', `the disk mirror did not end (status ${job.status})`, {
        mirror: job,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function ignoreQmpError(error: unknown): void {
  if (!(error instanceof QmpCommandError)) throw error;
}
