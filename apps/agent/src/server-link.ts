import type { Agent } from 'node:https';
import type { IncomingMessage } from 'node:http';
import {
  ERROR_CODES,
  type ClusterHeartbeat,
  type ClusterHeartbeatReply,
  type ErrorBody,
  type ErrorCode,
  type ImageFileName,
} from '@novacron/api';
import { clusterAgent, clusterRequest, readText, type TlsIdentity } from '@novacron/auth';
import { DomainError } from '@novacron/domain';

/**
 * The agent's calls to the server's cluster port, over mutual TLS: it presents its own
 * certificate, trusts only the cluster CA, and talks only to a peer whose certificate is the
 * server's (docs/adr/0008-cluster-trust.md).
 */
export class ServerLink {
  private readonly agent: Agent;

  constructor(
    readonly serverUrl: string,
    identity: TlsIdentity,
  ) {
    this.agent = clusterAgent(identity, { role: 'server' });
  }

  async heartbeat(beat: ClusterHeartbeat, timeoutMs = 10_000): Promise<ClusterHeartbeatReply> {
    const response = await this.request('POST', '/cluster/v1/heartbeat', beat, timeoutMs);
    return JSON.parse(await readText(response)) as ClusterHeartbeatReply;
  }

  /** One file of an image, as a stream; the caller checks what arrives against the SHA-256. */
  imageFile(imageId: string, file: ImageFileName): Promise<IncomingMessage> {
    return this.request(
      'GET',
      `/cluster/v1/images/${encodeURIComponent(imageId)}/${file}`,
      undefined,
      60_000,
    );
  }

  close(): void {
    this.agent.destroy();
  }

  private async request(
    method: string,
    path: string,
    body: unknown,
    timeoutMs: number,
  ): Promise<IncomingMessage> {
    let response: IncomingMessage;
    try {
      response = await clusterRequest(new URL(path, this.serverUrl), {
        method,
        agent: this.agent,
        body,
        timeoutMs,
      });
    } catch (error) {
      throw new DomainError(
        'AGENT_ERROR',
        `the server at ${this.serverUrl} did not answer: ${describe(error)}`,
        { server: this.serverUrl },
      );
    }
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    throw serverError(status, await readText(response, 1024 * 1024).catch(() => ''));
  }
}

/** The server's error body as a DomainError with the same code, or AGENT_ERROR. */
export function serverError(status: number, text: string): DomainError {
  try {
    const { error } = JSON.parse(text) as ErrorBody;
    const code = (ERROR_CODES as readonly string[]).includes(error.code)
      ? (error.code as ErrorCode)
      : 'AGENT_ERROR';
    return new DomainError(code, error.message, error.details ?? {});
  } catch {
    return new DomainError('AGENT_ERROR', `the server answered HTTP ${status}`);
  }
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: string }).code;
    return code === undefined ? error.message : `${error.message} (${code})`;
  }
  return String(error);
}
