import type { Agent } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import {
  ERROR_CODES,
  type AgentHardwareReply,
  type AgentDirtyRateReply,
  type AgentDirtyRateRequest,
  type AgentHostInfo,
  type AgentIncomingReply,
  type AgentIncomingRequest,
  type AgentMigrationStatus,
  type AgentMigrationTuning,
  type AgentMirrorRequest,
  type AgentDiskCopy,
  type AgentDiskIncomingRequest,
  type AgentNbdExport,
  type AgentOutgoingRequest,
  type AgentVmDeleted,
  type AgentVmSpec,
  type AgentVmStateChange,
  type AgentVmStatus,
  type AgentCloneReply,
  type AgentCloneRequest,
  type AgentSnapshot,
  type AgentSnapshotCreate,
  type ErrorBody,
  type ErrorCode,
} from '@novacron/api';
import {
  clusterAgent,
  clusterRequest,
  expectPeer,
  readText,
  type TlsIdentity,
} from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import { WebSocket, type ClientOptions } from 'ws';

/** What the server asks of one host's agent (ARCHITECTURE.md §4). */
export interface AgentPort {
  hostInfo(): Promise<AgentHostInfo>;
  listVms(): Promise<AgentVmStatus[]>;
  ensureVm(spec: AgentVmSpec): Promise<AgentVmStatus>;
  changeState(id: string, change: AgentVmStateChange): Promise<AgentVmStatus>;
  /** Resize and hotplug (ADR 23); absent on agents older than it. */
  applyHardware?(spec: AgentVmSpec): Promise<AgentHardwareReply>;
  /** With keepDisks the host moves the disk aside and answers where (older agents: nothing). */
  deleteVm(id: string, options?: { keepDisks?: boolean }): Promise<AgentVmDeleted | void>;
  consoleOutput(id: string, tailBytes?: number): Promise<string>;
  /** A WebSocket of raw bytes to the VM's serial port or VNC display (docs/adr/0012-console.md). */
  openConsole?(id: string, kind: ConsoleKind): Promise<WebSocket>;
  /** Target: a QEMU waiting for the stream; answers the URI the source sends to. */
  migrationIncoming(id: string, request: AgentIncomingRequest): Promise<AgentIncomingReply>;
  /** Source: starts sending; answers once QEMU accepted (status setup/active). */
  migrationOutgoing(id: string, request: AgentOutgoingRequest): Promise<AgentMigrationStatus>;
  /** query-migrate on this host (either side). */
  migrationStatus(id: string): Promise<AgentMigrationStatus>;
  /** Source: bandwidth, downtime limit, throttle of the running stream. */
  migrationTune(id: string, tuning: AgentMigrationTuning): Promise<AgentMigrationStatus>;
  /** Source: switch to post-copy (VM_INVALID_STATE without postcopy-ram). */
  migrationPostcopy(id: string): Promise<AgentMigrationStatus>;
  /** Source, local disk: mirror it into the target's NBD export while the guest runs. */
  migrationMirror(id: string, request: AgentMirrorRequest): Promise<AgentMigrationStatus>;
  /** Source, local disk, paused at `pre-switchover`: end the mirror in sync, then continue. */
  migrationSwitchover(id: string): Promise<AgentMigrationStatus>;
  /** Target of a cold migration: a fresh disk exported over NBD. */
  migrationDiskIncoming(id: string, request: AgentDiskIncomingRequest): Promise<AgentNbdExport>;
  /** Source of a cold migration: copies the stopped VM's disk; answers when whole. */
  migrationDiskOutgoing(id: string, request: AgentMirrorRequest): Promise<AgentDiskCopy>;
  /** Target of a cold migration, after the copy: closes the disk and says what it holds. */
  migrationDiskDone(id: string): Promise<AgentDiskCopy>;
  /**
   * Either side, idempotent. Source: cancel and wait (VM_INVALID_STATE after the switch to
   * post-copy; `completed` when too late). Target: quit the incoming QEMU, forget the VM.
   */
  migrationAbort(id: string): Promise<AgentMigrationStatus>;
  /** Source, after `completed`: quit the postmigrate QEMU and forget the VM (not its disk). */
  migrationComplete(id: string): Promise<void>;
  /** calc-dirty-rate on the running guest over `request.seconds`. */
  dirtyRate(id: string, request: AgentDirtyRateRequest): Promise<AgentDirtyRateReply>;
  /** Lets go of kept-alive connections. */
  close?(): void;
  /** Snapshots and clones of the host's VM disks (docs/adr/0022-snapshots-clones-templates.md). */
  readonly snapshots?: AgentSnapshotPort;
}

/** The agent's snapshot and clone calls; each runs in the VM's action queue on the host. */
export interface AgentSnapshotPort {
  list(id: string): Promise<AgentSnapshot[]>;
  create(id: string, request: AgentSnapshotCreate): Promise<AgentSnapshot>;
  revert(id: string, name: string): Promise<AgentSnapshot>;
  delete(id: string, name: string): Promise<void>;
  /** Makes the disk of `request.spec` on this host from the source VM's disk. */
  clone(sourceId: string, request: AgentCloneRequest): Promise<AgentCloneReply>;
}

export type ConsoleKind = 'serial' | 'vnc';

const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * The agent API over HTTPS with mutual TLS (docs/adr/0008-cluster-trust.md): the server presents
 * its own certificate, trusts only the cluster CA, and accepts only the certificate of the host
 * it means to call (its name, not the address dialled, identifies the agent).
 */
export class HttpsAgentClient implements AgentPort {
  private readonly agent: Agent;

  constructor(
    readonly baseUrl: string,
    private readonly hostName: string,
    private readonly identity: TlsIdentity,
  ) {
    this.agent = clusterAgent(identity, { role: 'agent', name: hostName });
  }

  hostInfo(): Promise<AgentHostInfo> {
    return this.call<AgentHostInfo>('GET', '/v1/host');
  }

  // Saving or loading a guest's RAM and copying a disk take a while: allow for large guests.
  readonly snapshots: AgentSnapshotPort = {
    list: (id) => this.call<AgentSnapshot[]>('GET', `/v1/vms/${id}/snapshots`),
    create: (id, request) =>
      this.call<AgentSnapshot>('POST', `/v1/vms/${id}/snapshots`, request, 30 * 60_000),
    revert: (id, name) =>
      this.call<AgentSnapshot>(
        'POST',
        `/v1/vms/${id}/snapshots/${encodeURIComponent(name)}/revert`,
        undefined,
        30 * 60_000,
      ),
    delete: (id, name) =>
      this.call<void>(
        'DELETE',
        `/v1/vms/${id}/snapshots/${encodeURIComponent(name)}`,
        undefined,
        10 * 60_000,
      ),
    clone: (sourceId, request) =>
      this.call<AgentCloneReply>('POST', `/v1/vms/${sourceId}/clone`, request, 60 * 60_000),
  };

  listVms(): Promise<AgentVmStatus[]> {
    return this.call<AgentVmStatus[]>('GET', '/v1/vms');
  }

  ensureVm(spec: AgentVmSpec): Promise<AgentVmStatus> {
    // Starting QEMU includes pulling the image and creating the disk: allow more than a plain call.
    return this.call<AgentVmStatus>('PUT', `/v1/vms/${spec.id}`, spec, 10 * 60_000);
  }

  applyHardware(spec: AgentVmSpec): Promise<AgentHardwareReply> {
    // An unplug waits for the guest to let the device go (up to 30 s on the host).
    return this.call<AgentHardwareReply>('PUT', `/v1/vms/${spec.id}/hardware`, spec, 2 * 60_000);
  }

  changeState(id: string, change: AgentVmStateChange): Promise<AgentVmStatus> {
    const waitMs = ((change.timeoutSeconds ?? 30) + 30) * 1000;
    return this.call<AgentVmStatus>('POST', `/v1/vms/${id}/state`, change, waitMs);
  }

  async deleteVm(
    id: string,
    options: { keepDisks?: boolean } = {},
  ): Promise<AgentVmDeleted | void> {
    const query = options.keepDisks ? '?keepDisks=true' : '';
    return this.call<AgentVmDeleted | undefined>(
      'DELETE',
      `/v1/vms/${id}${query}`,
      undefined,
      60_000,
    );
  }

  consoleOutput(id: string, tailBytes?: number): Promise<string> {
    const query = tailBytes === undefined ? '' : `?tailBytes=${tailBytes}`;
    return this.call<string>('GET', `/v1/vms/${id}/console${query}`);
  }

  migrationIncoming(id: string, request: AgentIncomingRequest): Promise<AgentIncomingReply> {
    // Launching QEMU may pull the image first.
    return this.call<AgentIncomingReply>(
      'POST',
      `/v1/vms/${id}/migration/incoming`,
      request,
      10 * 60_000,
    );
  }

  migrationOutgoing(id: string, request: AgentOutgoingRequest): Promise<AgentMigrationStatus> {
    return this.call<AgentMigrationStatus>(
      'POST',
      `/v1/vms/${id}/migration/outgoing`,
      request,
      60_000,
    );
  }

  migrationStatus(id: string): Promise<AgentMigrationStatus> {
    return this.call<AgentMigrationStatus>('GET', `/v1/vms/${id}/migration`);
  }

  migrationTune(id: string, tuning: AgentMigrationTuning): Promise<AgentMigrationStatus> {
    return this.call<AgentMigrationStatus>('PATCH', `/v1/vms/${id}/migration`, tuning);
  }

  migrationPostcopy(id: string): Promise<AgentMigrationStatus> {
    return this.call<AgentMigrationStatus>('POST', `/v1/vms/${id}/migration/postcopy`);
  }

  migrationMirror(id: string, request: AgentMirrorRequest): Promise<AgentMigrationStatus> {
    return this.call<AgentMigrationStatus>('POST', `/v1/vms/${id}/migration/mirror`, request);
  }

  migrationSwitchover(id: string): Promise<AgentMigrationStatus> {
    return this.call<AgentMigrationStatus>('POST', `/v1/vms/${id}/migration/switchover`);
  }

  migrationDiskIncoming(id: string, request: AgentDiskIncomingRequest): Promise<AgentNbdExport> {
    // The target may pull the base image from the server first.
    return this.call<AgentNbdExport>('POST', `/v1/vms/${id}/migration/disk`, request, 600_000);
  }

  migrationDiskOutgoing(id: string, request: AgentMirrorRequest): Promise<AgentDiskCopy> {
    return this.call<AgentDiskCopy>(
      'POST',
      `/v1/vms/${id}/migration/disk/outgoing`,
      request,
      3_600_000,
    );
  }

  migrationDiskDone(id: string): Promise<AgentDiskCopy> {
    return this.call<AgentDiskCopy>('POST', `/v1/vms/${id}/migration/disk/done`, undefined, 60_000);
  }

  migrationAbort(id: string): Promise<AgentMigrationStatus> {
    // The source waits until QEMU has cancelled (bounded at 30 s there).
    return this.call<AgentMigrationStatus>('DELETE', `/v1/vms/${id}/migration`, undefined, 60_000);
  }

  async migrationComplete(id: string): Promise<void> {
    await this.call<undefined>('POST', `/v1/vms/${id}/migration/complete`, undefined, 60_000);
  }

  dirtyRate(id: string, request: AgentDirtyRateRequest): Promise<AgentDirtyRateReply> {
    return this.call<AgentDirtyRateReply>(
      'POST',
      `/v1/vms/${id}/dirty-rate`,
      request,
      (request.seconds + 30) * 1000,
    );
  }

  openConsole(id: string, kind: ConsoleKind): Promise<WebSocket> {
    const url = new URL(`/v1/vms/${id}/console/${kind}`, this.baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const tls: ConnectionOptions = {
      ca: this.identity.ca,
      key: this.identity.key,
      cert: this.identity.cert,
      rejectUnauthorized: true,
      checkServerIdentity: expectPeer({ role: 'agent', name: this.hostName }),
    };
    // ws types checkServerIdentity as Node's old signature; ws hands it to tls.connect as is.
    const socket = new WebSocket(url, {
      ...(tls as ClientOptions),
      handshakeTimeout: DEFAULT_TIMEOUT_MS,
      maxPayload: 1024 * 1024,
    });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(socket));
      // The agent refused the upgrade (unknown VM, not running): its usual error body.
      socket.once('unexpected-response', (_request, response) => {
        readText(response).then(
          (text) => reject(this.agentError(response.statusCode ?? 0, text)),
          (error: unknown) => reject(this.unreachable(error)),
        );
        socket.terminate();
      });
      socket.once('error', (error) => reject(this.unreachable(error)));
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<T> {
    let status: number;
    let type: string;
    let text: string;
    try {
      const response = await clusterRequest(new URL(path, this.baseUrl), {
        method,
        agent: this.agent,
        body,
        timeoutMs,
      });
      status = response.statusCode ?? 0;
      type = response.headers['content-type'] ?? '';
      text = await readText(response);
    } catch (error) {
      throw this.unreachable(error);
    }
    if (status < 200 || status >= 300) throw this.agentError(status, text);
    if (status === 204 || text === '') return undefined as T;
    return (type.includes('application/json') ? JSON.parse(text) : text) as T;
  }

  private unreachable(error: unknown): DomainError {
    return new DomainError(
      'HOST_UNREACHABLE',
      `host ${this.hostName} did not answer: ${reason(error)}`,
      {
        host: this.hostName,
      },
    );
  }

  private agentError(status: number, text: string): DomainError {
    try {
      const { error } = JSON.parse(text) as ErrorBody;
      const code = (ERROR_CODES as readonly string[]).includes(error.code)
        ? (error.code as ErrorCode)
        : 'AGENT_ERROR';
      return new DomainError(code, error.message, { ...error.details, host: this.hostName });
    } catch {
      return new DomainError('AGENT_ERROR', `host ${this.hostName} answered ${status}`, {
        host: this.hostName,
      });
    }
  }
}

function reason(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: string }).code;
    return code === undefined ? error.message : `${code}: ${error.message}`;
  }
  return String(error);
}
