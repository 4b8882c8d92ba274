import {
  ERROR_CODES,
  type AgentHostInfo,
  type AgentVmSpec,
  type AgentVmStateChange,
  type AgentVmStatus,
  type ErrorBody,
  type ErrorCode,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';

/** What the server asks of one host's agent (ARCHITECTURE.md §4). */
export interface AgentPort {
  hostInfo(): Promise<AgentHostInfo>;
  listVms(): Promise<AgentVmStatus[]>;
  ensureVm(spec: AgentVmSpec): Promise<AgentVmStatus>;
  changeState(id: string, change: AgentVmStateChange): Promise<AgentVmStatus>;
  deleteVm(id: string): Promise<void>;
  consoleOutput(id: string, tailBytes?: number): Promise<string>;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/** The agent API over HTTP. Mutual TLS arrives with agents that join (the control-plane issue). */
export class HttpAgentClient implements AgentPort {
  constructor(
    readonly baseUrl: string,
    private readonly hostName: string,
  ) {}

  hostInfo(): Promise<AgentHostInfo> {
    return this.call<AgentHostInfo>('GET', '/v1/host');
  }

  listVms(): Promise<AgentVmStatus[]> {
    return this.call<AgentVmStatus[]>('GET', '/v1/vms');
  }

  ensureVm(spec: AgentVmSpec): Promise<AgentVmStatus> {
    // Starting QEMU includes creating its disk; allow more than a plain call.
    return this.call<AgentVmStatus>('PUT', `/v1/vms/${spec.id}`, spec, 60_000);
  }

  changeState(id: string, change: AgentVmStateChange): Promise<AgentVmStatus> {
    const waitMs = ((change.timeoutSeconds ?? 30) + 30) * 1000;
    return this.call<AgentVmStatus>('POST', `/v1/vms/${id}/state`, change, waitMs);
  }

  async deleteVm(id: string): Promise<void> {
    await this.call<undefined>('DELETE', `/v1/vms/${id}`, undefined, 60_000);
  }

  consoleOutput(id: string, tailBytes?: number): Promise<string> {
    const query = tailBytes === undefined ? '' : `?tailBytes=${tailBytes}`;
    return this.call<string>('GET', `/v1/vms/${id}/console${query}`);
  }

  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new DomainError(
        'HOST_UNREACHABLE',
        `host ${this.hostName} did not answer: ${reason(error)}`,
        {
          host: this.hostName,
        },
      );
    }
    const text = await response.text();
    if (!response.ok) throw this.agentError(response.status, text);
    if (response.status === 204 || text === '') return undefined as T;
    const type = response.headers.get('content-type') ?? '';
    return (type.includes('application/json') ? JSON.parse(text) : text) as T;
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
    const cause = (error as Error & { cause?: { code?: string } }).cause;
    return cause?.code ?? error.message;
  }
  return String(error);
}
