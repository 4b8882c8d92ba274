import { join, resolve } from 'node:path';
import type { AgentVmSpec } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { vmFiles, type VmFiles } from '@novacron/qemu';

// The same shape as the schema's id pattern, checked again here because it becomes a path.
const VM_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidVmId(id: string): boolean {
  return VM_ID.test(id);
}

export function assertValidVmId(id: string): void {
  if (!isValidVmId(id)) {
    throw new DomainError('VALIDATION_FAILED', 'a VM id is 1-64 letters, digits, _ or -', {
      id: id.slice(0, 80),
    });
  }
}

/** The agent's state folder inside the data directory (docs/adr/0005-data-directory.md). */
export interface AgentPaths {
  agentDir: string;
  vmsDir: string;
  /** Cached accelerator verdict. */
  accelCache: string;
  /** Where the KVM probe guest is built when a probe is needed. */
  probeImageDir: string;
  /** Downloaded Debian packages (shared with the server's tiny image build). */
  packageCacheDir: string;
  /** The agent's cluster identity: `agent.key` (0600), `agent.crt`, `ca.crt`. */
  pkiDir: string;
  /** Images pulled from the server: `<image id>/<sha256>/<files>`. */
  imagesDir: string;
  /** QEMU's tls-creds-x509 folder for migration streams, made from the cluster identity. */
  migrationTlsDir: string;
  /** The shared pool every host mounts (NOVACRON_SHARED_POOL_DIR); null when this host has none. */
  sharedPoolDir: string | null;
}

export function agentPaths(dataDir: string, sharedPoolDir?: string): AgentPaths {
  const root = resolve(dataDir);
  const agentDir = join(root, 'agent');
  return {
    agentDir,
    vmsDir: join(agentDir, 'vms'),
    accelCache: join(agentDir, 'accel.json'),
    probeImageDir: join(agentDir, 'probe-image'),
    packageCacheDir: join(root, 'cache'),
    pkiDir: join(agentDir, 'pki'),
    imagesDir: join(agentDir, 'images'),
    migrationTlsDir: join(agentDir, 'migration-tls'),
    sharedPoolDir: sharedPoolDir === undefined ? null : resolve(sharedPoolDir),
  };
}

/** The folder and files of one VM; refuses an id that is not safe as a path segment. */
export function vmFilesOf(
  paths: AgentPaths,
  id: string,
): VmFiles & { spec: string; status: string } {
  assertValidVmId(id);
  const files = vmFiles(join(paths.vmsDir, id));
  return { ...files, spec: join(files.dir, 'spec.json'), status: join(files.dir, 'status.json') };
}

/**
 * Where a VM's disk lives: `<agent VM folder>/disk.qcow2` for the local pool (or no pool),
 * `<shared pool>/vms/<id>/disk.qcow2` for the shared one. The only place that decides it. A host
 * without a shared pool refuses a shared VM.
 */
export function vmDiskPath(paths: AgentPaths, spec: Pick<AgentVmSpec, 'id' | 'pool'>): string {
  if (spec.pool !== 'shared') return vmFilesOf(paths, spec.id).disk;
  return join(sharedDiskDir(paths, spec.id), 'disk.qcow2');
}

/** The folder of a shared-pool VM's disk (removed with the VM, never by a migration). */
export function sharedDiskDir(paths: AgentPaths, id: string): string {
  assertValidVmId(id);
  if (paths.sharedPoolDir === null) {
    throw new DomainError(
      'HOST_PREREQUISITE_MISSING',
      `VM ${id} has its disk in the shared pool, and this host has none (set NOVACRON_SHARED_POOL_DIR to the directory every host mounts)`,
      { id, setting: 'NOVACRON_SHARED_POOL_DIR' },
    );
  }
  return join(paths.sharedPoolDir, 'vms', id);
}
