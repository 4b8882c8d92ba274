import {
  IdOrName,
  TERMINAL_OPERATION_STATUSES,
  type Host,
  type HostJoinToken,
  type HostPage,
  type HostMetricsSeries,
  type HostPatch,
  type Image,
  type ImageImport,
  type ImageUploadQuery,
  type ImagePage,
  type ListQuery,
  type LoginResponse,
  type TotpEnrolment,
  type TotpRequirement,
  type TotpStatus,
  type MigrationPlan,
  type MigrationPlanRequest,
  type MigrationRequest,
  type Operation,
  type OperationListQuery,
  type OperationPage,
  type SchedulerExplainRequest,
  type SchedulerExplanation,
  type VmClone,
  type VmSnapshotCreate,
  type VmSnapshotList,
  type Vm,
  type VmAction,
  type VmCreate,
  type VmListQuery,
  type VmMetricsSeries,
  type VmPage,
  type VmPatch,
  type VmDiskAdd,
  type VmHardwareView,
  type VmNicAdd,
  type VmResize,
} from '@novacron/api';
import { NovaCronApiError, NovaCronConnectionError, NovaCronError } from './errors.js';
import { openConsoleStream, type ConsoleStream, type ConsoleStreamOptions } from './console.js';
import { openEventStream, type EventStream, type EventStreamOptions } from './events.js';
import { AuditResource, ProjectsResource, TokensResource, UsersResource } from './security.js';

export interface NovaCronClientOptions {
  /** Where the server listens, e.g. `http://127.0.0.1:8090`. */
  baseUrl: string;
  /** Access or API token sent as `Authorization: Bearer`; login and /healthz need none. */
  token?: string;
  /** Defaults to the global fetch; tests pass a fake. */
  fetch?: typeof fetch;
}

/** What GET /healthz answers. */
export interface Health {
  status: string;
  [key: string]: unknown;
}

export interface OperationWaitOptions {
  /** Longest single wait request, in seconds (default 30): keeps each request under proxy and fetch timeouts. */
  pollSeconds?: number;
  /** Called with the operation after each request, e.g. to draw progress. */
  onUpdate?: (operation: Operation) => void;
}

/** A list value repeats the key (`label=a=1&label=b=2`). */
type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

interface RequestOptions {
  /** Values of the `:name` placeholders of the path, each an id or a name. */
  params?: Record<string, string>;
  query?: Query;
  body?: unknown;
  /** `text` for plain-text answers such as console output. */
  accept?: 'json' | 'text';
  /** A body sent as is (a file upload), instead of `body` as JSON. */
  raw?: { body: ReadableStream<Uint8Array> | Blob | Uint8Array; contentType: string };
}

// Ids and names are path segments: the API's own pattern keeps `..` and `/` out of the URL.
// TypeBox keeps schema options as plain properties its TString type does not declare.
const idOrNameSchema = IdOrName as { pattern?: string; maxLength?: number };
const idOrNamePattern = new RegExp(idOrNameSchema.pattern ?? '^[A-Za-z0-9_-]+$');
const MAX_ID_LENGTH = idOrNameSchema.maxLength ?? 64;
const DEFAULT_POLL_SECONDS = 30;
// A server that answers a wait at once must not be hammered in a tight loop.
const MIN_POLL_INTERVAL_MS = 250;

/** Codes for error answers that lack NovaCron's error body (a proxy, an old server). */
function codeForStatus(status: number): string {
  switch (status) {
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'ROUTE_NOT_FOUND';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 429:
      return 'RATE_LIMITED';
    default:
      return status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED';
  }
}

function segment(value: string, what: string): string {
  if (value.length > MAX_ID_LENGTH || !idOrNamePattern.test(value)) {
    throw new NovaCronError(
      'VALIDATION_FAILED',
      `${what} '${value.slice(0, 80)}' is not a valid id or name`,
      {
        [what]: value,
      },
    );
  }
  return value;
}

function reasonOf(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The HTTP plumbing the resource groups share. */
class Transport {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: NovaCronClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    // A browser's fetch must be called unbound (`this.fetchImpl(...)` throws Illegal invocation
    // there): the default is looked up at each call, as a plain function.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** `path` is the route, e.g. `/api/v1/vms/:vm`, filled from `options.params`. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { status, text } = await this.send(method, path, options);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new NovaCronApiError(
        status,
        'INVALID_RESPONSE',
        `${method} ${path} answered with a body that is not JSON`,
      );
    }
  }

  async text(method: string, path: string, options: RequestOptions = {}): Promise<string> {
    return (await this.send(method, path, { ...options, accept: 'text' })).text;
  }

  private async send(
    method: string,
    route: string,
    options: RequestOptions,
  ): Promise<{ status: number; text: string }> {
    const path = route.replace(/:(\w+)/g, (_, name: string) =>
      segment(options.params?.[name] ?? '', name),
    );
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (typeof value === 'object') for (const item of value) url.searchParams.append(key, item);
      else if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = {
      accept: options.accept === 'text' ? 'text/plain' : 'application/json',
    };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    // No content-type without a body: servers refuse an empty JSON body.
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.raw !== undefined) headers['content-type'] = options.raw.contentType;

    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        // A stream needs half-duplex in Node's fetch; browsers ignore the field.
        ...(options.raw === undefined ? {} : { body: options.raw.body, duplex: 'half' }),
      });
      text = await response.text();
    } catch (error) {
      throw new NovaCronConnectionError(this.baseUrl, reasonOf(error), error);
    }
    if (!response.ok) throw errorFromResponse(response.status, text, `${method} ${url.pathname}`);
    return { status: response.status, text };
  }
}

function errorFromResponse(status: number, text: string, request: string): NovaCronApiError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error === 'object' && error !== null) {
    const { code, message, details, requestId } = error as Record<string, unknown>;
    if (typeof code === 'string' && typeof message === 'string') {
      return new NovaCronApiError(
        status,
        code,
        message,
        typeof details === 'object' && details !== null ? (details as Record<string, unknown>) : {},
        typeof requestId === 'string' ? requestId : undefined,
      );
    }
  }
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return new NovaCronApiError(
    status,
    codeForStatus(status),
    `${request} answered HTTP ${status}${snippet ? `: ${snippet}` : ''}`,
  );
}

export class VmsResource {
  constructor(private readonly http: Transport) {}

  /** Answers 202 with the `vm.create` operation. */
  create(request: VmCreate): Promise<Operation> {
    return this.http.json('POST', '/api/v1/vms', { body: request });
  }

  /** One page; follow `nextCursor` for the rest. */
  list(query: VmListQuery = {}): Promise<VmPage> {
    return this.http.json('GET', '/api/v1/vms', { query: { ...query } });
  }

  get(idOrName: string): Promise<Vm> {
    return this.http.json('GET', '/api/v1/vms/:vm', { params: { vm: idOrName } });
  }

  /** Labels merge (null removes a key); cpus and memory only while the VM is stopped. */
  patch(idOrName: string, patch: VmPatch): Promise<Vm> {
    return this.http.json('PATCH', '/api/v1/vms/:vm', { params: { vm: idOrName }, body: patch });
  }

  action(idOrName: string, action: VmAction): Promise<Operation> {
    return this.http.json('POST', '/api/v1/vms/:vm/actions', {
      params: { vm: idOrName },
      body: action,
    });
  }

  /** With keepDisks the operation's result lists the kept disks (`keptDisks`, a host path each). */
  delete(
    idOrName: string,
    options: { force?: boolean; keepDisks?: boolean } = {},
  ): Promise<Operation> {
    return this.http.json('DELETE', '/api/v1/vms/:vm', {
      params: { vm: idOrName },
      query: {
        force: options.force ? true : undefined,
        keepDisks: options.keepDisks ? true : undefined,
      },
    });
  }

  /** Answers 202 with the `vm.snapshot` operation; `memory` saves the running guest too. */
  createSnapshot(idOrName: string, request: VmSnapshotCreate): Promise<Operation> {
    return this.http.json('POST', '/api/v1/vms/:vm/snapshots', {
      params: { vm: idOrName },
      body: request,
    });
  }

  /** The VM's snapshots, oldest first. */
  listSnapshots(idOrName: string): Promise<VmSnapshotList> {
    return this.http.json('GET', '/api/v1/vms/:vm/snapshots', { params: { vm: idOrName } });
  }

  /** Answers 202 with the `vm.snapshot.revert` operation. */
  revertSnapshot(idOrName: string, snapshot: string): Promise<Operation> {
    return this.http.json('POST', '/api/v1/vms/:vm/snapshots/:snapshot/revert', {
      params: { vm: idOrName, snapshot },
    });
  }

  /** Answers 202 with the `vm.snapshot.delete` operation. */
  deleteSnapshot(idOrName: string, snapshot: string): Promise<Operation> {
    return this.http.json('DELETE', '/api/v1/vms/:vm/snapshots/:snapshot', {
      params: { vm: idOrName, snapshot },
    });
  }

  /** Answers 202 with the `vm.clone` operation, whose target is the new VM. */
  clone(idOrName: string, request: VmClone): Promise<Operation> {
    return this.http.json('POST', '/api/v1/vms/:vm/clone', {
      params: { vm: idOrName },
      body: request,
    });
  }

  /** Makes a stopped VM a template (immutable, only cloned). */
  markTemplate(idOrName: string): Promise<Vm> {
    return this.http.json('POST', '/api/v1/vms/:vm/template', { params: { vm: idOrName } });
  }

  /** Answers 202 with the `vm.migrate` operation. */
  migrate(idOrName: string, request: MigrationRequest = {}): Promise<Operation> {
    return this.http.json('POST', '/api/v1/vms/:vm/migrate', {
      params: { vm: idOrName },
      body: request,
    });
  }

  /** Measures the guest's dirty rate and predicts each strategy; moves nothing. */
  migrationPlan(idOrName: string, request: MigrationPlanRequest = {}): Promise<MigrationPlan> {
    return this.http.json('POST', '/api/v1/vms/:vm/migrate/plan', {
      params: { vm: idOrName },
      body: request,
    });
  }

  /** The serial console output the host kept, as text. */
  consoleOutput(idOrName: string, options: { tailBytes?: number } = {}): Promise<string> {
    return this.http.text('GET', '/api/v1/vms/:vm/console/output', {
      params: { vm: idOrName },
      query: { tailBytes: options.tailBytes },
    });
  }

  /** The VM's recent metrics samples, oldest first (`since`: an ISO time). */
  metrics(idOrName: string, options: { since?: string } = {}): Promise<VmMetricsSeries> {
    return this.http.json('GET', '/api/v1/vms/:vm/metrics', {
      params: { vm: idOrName },
      query: { since: options.since },
    });
  }

  /** The VM's size, headroom, data disks and extra NICs. */
  hardware(idOrName: string): Promise<VmHardwareView> {
    return this.http.json('GET', '/api/v1/vms/:vm/hardware', { params: { vm: idOrName } });
  }

  /** Answers 202 with the `vm.resize` operation; live on a running VM where QEMU can. */
  resize(idOrName: string, request: VmResize): Promise<Operation> {
    return this.http.json('POST', '/api/v1/vms/:vm/resize', {
      params: { vm: idOrName },
      body: request,
    });
  }

  /** Answers 202 with the `vm.device.add` operation: a new data disk, hot-plugged if running. */
  addDisk(idOrName: string, request: VmDiskAdd): Promise<Operation> {
    return this.http.json('POST', '/api/v1/vms/:vm/disks', {
      params: { vm: idOrName },
      body: request,
    });
  }

  /** Answers 202 with the `vm.device.remove` operation; the disk's file is deleted. */
  removeDisk(idOrName: string, disk: string): Promise<Operation> {
    return this.http.json('DELETE', '/api/v1/vms/:vm/disks/:device', {
      params: { vm: idOrName, device: disk },
    });
  }

  /** Answers 202 with the `vm.device.add` operation: one more NIC, hot-plugged if running. */
  addNic(idOrName: string, request: VmNicAdd = {}): Promise<Operation> {
    return this.http.json('POST', '/api/v1/vms/:vm/nics', {
      params: { vm: idOrName },
      body: request,
    });
  }

  /** Answers 202 with the `vm.device.remove` operation. */
  removeNic(idOrName: string, nic: string): Promise<Operation> {
    return this.http.json('DELETE', '/api/v1/vms/:vm/nics/:device', {
      params: { vm: idOrName, device: nic },
    });
  }
}

export class HostsResource {
  constructor(private readonly http: Transport) {}

  list(query: ListQuery = {}): Promise<HostPage> {
    return this.http.json('GET', '/api/v1/hosts', { query: { ...query } });
  }

  get(idOrName: string): Promise<Host> {
    return this.http.json('GET', '/api/v1/hosts/:host', { params: { host: idOrName } });
  }

  /** Labels merge (null removes a key); `enabled` and `cordoned` take the host in or out of placement. */
  patch(idOrName: string, patch: HostPatch): Promise<Host> {
    return this.http.json('PATCH', '/api/v1/hosts/:host', {
      params: { host: idOrName },
      body: patch,
    });
  }

  /** A one-time join token (admin): a machine joins as host `name` with the command it carries. */
  add(name: string): Promise<HostJoinToken> {
    return this.http.json('POST', '/api/v1/hosts', { body: { name } });
  }

  /** The host's recent metrics samples, oldest first (`since`: an ISO time). */
  metrics(idOrName: string, options: { since?: string } = {}): Promise<HostMetricsSeries> {
    return this.http.json('GET', '/api/v1/hosts/:host/metrics', {
      params: { host: idOrName },
      query: { since: options.since },
    });
  }

  /** Keeps the host's VMs, places no new ones on it. */
  cordon(idOrName: string): Promise<Host> {
    return this.http.json('POST', '/api/v1/hosts/:host/cordon', { params: { host: idOrName } });
  }

  /** Lets new VMs land on the host again (clears cordon and maintenance). */
  uncordon(idOrName: string): Promise<Host> {
    return this.http.json('POST', '/api/v1/hosts/:host/uncordon', { params: { host: idOrName } });
  }

  /** Answers 202 with the `host.drain` operation: every VM moves off, the host stays in maintenance. */
  drain(idOrName: string): Promise<Operation> {
    return this.http.json('POST', '/api/v1/hosts/:host/drain', { params: { host: idOrName } });
  }
}

export class SchedulerResource {
  constructor(private readonly http: Transport) {}

  /** What a create of this size and placement would do, host by host; places nothing. */
  explain(request: SchedulerExplainRequest): Promise<SchedulerExplanation> {
    return this.http.json('POST', '/api/v1/scheduler/explain', { body: request });
  }
}

export class ImagesResource {
  constructor(private readonly http: Transport) {}

  list(query: ListQuery = {}): Promise<ImagePage> {
    return this.http.json('GET', '/api/v1/images', { query: { ...query } });
  }

  get(idOrName: string): Promise<Image> {
    return this.http.json('GET', '/api/v1/images/:image', { params: { image: idOrName } });
  }

  /** Starts an import by URL on the server (202); follow the operation. */
  import(request: ImageImport): Promise<Operation> {
    return this.http.json('POST', '/api/v1/images', { body: request });
  }

  /**
   * Uploads an image file (a disk image or an OVA) as the request body; the server checks it
   * before storing anything and converts it in an operation (202).
   */
  upload(
    query: ImageUploadQuery,
    body: ReadableStream<Uint8Array> | Blob | Uint8Array,
  ): Promise<Operation> {
    return this.http.json('POST', '/api/v1/images/upload', {
      query: { ...query },
      raw: { body, contentType: 'application/octet-stream' },
    });
  }

  /** Removes an image no VM uses; answers it as it was. */
  delete(idOrName: string): Promise<Image> {
    return this.http.json('DELETE', '/api/v1/images/:image', { params: { image: idOrName } });
  }
}

export class OperationsResource {
  constructor(private readonly http: Transport) {}

  get(id: string): Promise<Operation> {
    return this.http.json('GET', '/api/v1/operations/:operation', { params: { operation: id } });
  }

  /** One page, newest first; follow `nextCursor` for older ones. */
  list(query: OperationListQuery = {}): Promise<OperationPage> {
    return this.http.json('GET', '/api/v1/operations', { query: { ...query } });
  }

  /**
   * Asks the server to cancel; answers the operation as it stands (202). It ends `cancelled` once
   * its work has rolled back, or `succeeded` if it finished first. OPERATION_FINISHED when it had.
   */
  cancel(id: string): Promise<Operation> {
    return this.http.json('DELETE', '/api/v1/operations/:operation', {
      params: { operation: id },
    });
  }

  /**
   * Waits until the operation is terminal or `timeoutSeconds` have passed, asking the server to
   * hold each request open (`/wait?timeout=`) for at most `pollSeconds`. Returns the last operation
   * seen, terminal or not: the caller decides what a timeout means.
   */
  async wait(
    id: string,
    timeoutSeconds: number,
    options: OperationWaitOptions = {},
  ): Promise<Operation> {
    const pollSeconds = Math.max(1, Math.floor(options.pollSeconds ?? DEFAULT_POLL_SECONDS));
    const deadline = Date.now() + Math.max(0, timeoutSeconds) * 1000;
    for (;;) {
      const started = Date.now();
      const remaining = Math.max(0, Math.ceil((deadline - started) / 1000));
      const operation = await this.http.json<Operation>(
        'GET',
        '/api/v1/operations/:operation/wait',
        {
          params: { operation: id },
          query: { timeout: Math.min(remaining, pollSeconds) },
        },
      );
      options.onUpdate?.(operation);
      if (TERMINAL_OPERATION_STATUSES.includes(operation.status) || Date.now() >= deadline) {
        return operation;
      }
      const elapsed = Date.now() - started;
      if (elapsed < MIN_POLL_INTERVAL_MS) await sleep(MIN_POLL_INTERVAL_MS - elapsed);
    }
  }
}

/** Typed client of the NovaCron REST API (`/api/v1`), shaped by the schemas of @novacron/api. */
export class NovaCronClient {
  readonly vms: VmsResource;
  readonly hosts: HostsResource;
  readonly images: ImagesResource;
  readonly operations: OperationsResource;
  readonly scheduler: SchedulerResource;
  readonly projects: ProjectsResource;
  readonly users: UsersResource;
  readonly tokens: TokensResource;
  readonly audit: AuditResource;
  private readonly http: Transport;
  private readonly token: string | undefined;

  constructor(options: NovaCronClientOptions) {
    this.http = new Transport(options);
    this.token = options.token;
    this.vms = new VmsResource(this.http);
    this.hosts = new HostsResource(this.http);
    this.images = new ImagesResource(this.http);
    this.operations = new OperationsResource(this.http);
    this.scheduler = new SchedulerResource(this.http);
    this.projects = new ProjectsResource(this.http);
    this.users = new UsersResource(this.http);
    this.tokens = new TokensResource(this.http);
    this.audit = new AuditResource(this.http);
  }

  /** Trades a refresh token for new tokens; the one sent stops working (rotation). */
  refresh(refreshToken: string): Promise<LoginResponse> {
    return this.http.json('POST', '/api/v1/auth/refresh', { body: { refreshToken } });
  }

  /** Ends this client's login session: its access and refresh tokens stop working. */
  async logout(): Promise<void> {
    await this.http.text('POST', '/api/v1/auth/logout');
  }

  get baseUrl(): string {
    return this.http.baseUrl;
  }

  /**
   * Exchanges a password for tokens; needs no token itself. A user with a second factor passes
   * the code too, or gets NovaCronApiError SECOND_FACTOR_REQUIRED whose `details.challenge`
   * goes to `loginSecondFactor` (`details.enrol`: enrol first with `loginTotpEnrol`).
   */
  login(
    username: string,
    password: string,
    secondFactor: { totpCode?: string; recoveryCode?: string } = {},
  ): Promise<LoginResponse> {
    return this.http.json('POST', '/api/v1/auth/login', {
      body: { username, password, ...secondFactor },
    });
  }

  /** The second step of a login: the challenge and a TOTP code or a recovery code. */
  loginSecondFactor(
    challenge: string,
    proof: { code?: string; recoveryCode?: string },
  ): Promise<LoginResponse> {
    return this.http.json('POST', '/api/v1/auth/login/second-factor', {
      body: { challenge, ...proof },
    });
  }

  /** Enrolment during a login, for a user who must have a second factor and has none. */
  loginTotpEnrol(challenge: string): Promise<TotpEnrolment> {
    return this.http.json('POST', '/api/v1/auth/login/totp-enrol', { body: { challenge } });
  }

  /** The caller's TOTP second factor. */
  totpStatus(): Promise<TotpStatus> {
    return this.http.json('GET', '/api/v1/auth/totp');
  }

  /** A new TOTP secret for the caller (shown once), active after `totpVerify`. */
  totpEnrol(): Promise<TotpEnrolment> {
    return this.http.json('POST', '/api/v1/auth/totp/enrol');
  }

  totpVerify(code: string): Promise<TotpStatus> {
    return this.http.json('POST', '/api/v1/auth/totp/verify', { body: { code } });
  }

  totpDisable(proof: { code?: string; recoveryCode?: string }): Promise<TotpStatus> {
    return this.http.json('POST', '/api/v1/auth/totp/disable', { body: proof });
  }

  /** Requires a second factor of a user, or stops requiring it (admin). */
  setTotpRequired(username: string, required: boolean): Promise<TotpRequirement> {
    return this.http.json('PUT', '/api/v1/users/:username/totp-required', {
      params: { username },
      body: { required },
    });
  }

  healthz(): Promise<Health> {
    return this.http.json('GET', '/healthz');
  }

  /**
   * Streams events (WebSocket `GET /api/v1/events`), replaying from `since` first, and reconnects
   * after a drop without losing or repeating one. In Node 20, pass `WebSocket` from the ws package.
   */
  events(options: EventStreamOptions): EventStream {
    return openEventStream({ ...options, baseUrl: this.http.baseUrl, token: this.token });
  }

  /**
   * Attaches to a VM's serial console (or VNC display with `kind: 'vnc'`) over a WebSocket: bytes
   * both ways. In Node 20, pass `WebSocket` from the ws package.
   */
  console(idOrName: string, options: ConsoleStreamOptions): ConsoleStream {
    return openConsoleStream({
      ...options,
      baseUrl: this.http.baseUrl,
      idOrName,
      token: this.token,
    });
  }
}
