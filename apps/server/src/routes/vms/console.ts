import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  EVENT_STREAM_CLOSE_CODES,
  EventStreamAuth,
  httpStatusOf,
  IdOrNameParams,
  type ErrorCode,
  type EventStreamError,
} from '@novacron/api';
import { DomainError, isDomainError } from '@novacron/domain';
import { Value } from 'typebox/value';
import type { WebSocket } from 'ws';
import type { ConsoleKind } from '../../agents/agent-client.js';
import { authenticateToken } from '../../authenticate.js';
import { authorizeVm } from '../../authorization.js';
import type { ServerApp, ServerDeps } from '../../deps.js';

/** How long a new connection has to send its `auth` message (as the event stream). */
const AUTH_TIMEOUT_MS = 10_000;
/** Bytes either side may leave unsent before the proxy stops reading the other. */
const HIGH_WATER_BYTES = 1024 * 1024;

const PATHS: Record<ConsoleKind, string> = {
  serial: '/api/v1/vms/:id/console',
  vnc: '/api/v1/vms/:id/vnc',
};

const DESCRIPTIONS: Record<ConsoleKind, string> = {
  serial:
    'WebSocket to the VM\'s serial console. Send `{"type":"auth","token":"<access token>"}` first (a token in the URL is refused), then binary frames carry the bytes both ways. Close codes: 4401 unauthenticated, 4000 + the HTTP status of the error otherwise (4404 unknown VM, 4409 not running, 4503 host unreachable), each after a JSON error frame.',
  vnc: 'WebSocket to the VM\'s VNC display: the RFB byte stream in binary frames (a noVNC client can use it). Send `{"type":"auth","token":"<access token>"}` first; close codes as for the serial console.',
};

/** GET /api/v1/vms/{idOrName}/console: the interactive serial console (docs/adr/0012-console.md). */
export function registerVmConsoleStream(app: ServerApp, deps: ServerDeps): void {
  registerConsoleProxy(app, deps, 'serial');
}

/** A WebSocket route that authenticates like the event stream, then proxies to the agent's. */
export function registerConsoleProxy(app: ServerApp, deps: ServerDeps, kind: ConsoleKind): void {
  // Declared once @fastify/websocket has loaded (its onRoute hook turns the route into an upgrade).
  void app.register((plugin, _opts, done) => {
    plugin.withTypeProvider<TypeBoxTypeProvider>().route({
      method: 'GET',
      url: PATHS[kind],
      config: { permission: 'vm.console', scope: 'vm' },
      schema: {
        summary: kind === 'serial' ? 'Serial console (WebSocket)' : 'VNC display (WebSocket)',
        description: DESCRIPTIONS[kind],
        params: IdOrNameParams,
      },
      handler: () => {
        throw new DomainError('VALIDATION_FAILED', 'connect with Upgrade: websocket');
      },
      wsHandler: (socket, request) => {
        new ConsoleProxy(socket, deps, request.params.id, kind, request.url);
      },
    });
    done();
  });
}

const OPEN = 1;

class ConsoleProxy {
  #state: 'auth' | 'connecting' | 'bridged' | 'closed' = 'auth';
  #upstream: WebSocket | undefined;
  readonly #pending: Buffer[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: ServerDeps,
    private readonly idOrName: string,
    private readonly kind: ConsoleKind,
    url: string,
  ) {
    this.#timer = setTimeout(
      () => this.fail('UNAUTHENTICATED', 'no auth message within 10 s', 4401),
      AUTH_TIMEOUT_MS,
    );
    socket.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(data, isBinary));
    socket.on('close', () => this.#end());
    socket.on('error', () => this.#end());
    // Tokens in URLs end up in logs and browser history.
    const query = new URL(url, 'http://localhost').searchParams;
    if (query.has('token') || query.has('access_token')) {
      this.fail(
        'UNAUTHENTICATED',
        'a token in the URL is refused; send {"type":"auth","token":...} as the first message',
        EVENT_STREAM_CLOSE_CODES.UNAUTHENTICATED,
      );
    }
  }

  /** Sends a JSON error frame, then closes with `closeCode`. */
  fail(code: ErrorCode, message: string, closeCode: number): void {
    if (this.#state === 'closed') return;
    const frame: EventStreamError = { type: 'error', error: { code, message, details: {} } };
    if (this.socket.readyState === OPEN) {
      this.socket.send(JSON.stringify(frame));
      this.socket.close(closeCode, `${code}: ${message}`.slice(0, 120));
    }
    this.#end();
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#state === 'bridged') {
      this.#upstream?.send(data, { binary: true });
      return;
    }
    if (this.#state !== 'auth') {
      this.#pending.push(data);
      return;
    }
    let message: unknown;
    try {
      message = isBinary ? undefined : JSON.parse(data.toString('utf8'));
    } catch {
      message = undefined;
    }
    if (!Value.Check(EventStreamAuth, message)) {
      this.fail(
        'UNAUTHENTICATED',
        'the first message must be {"type":"auth","token":"<access token>"}',
        EVENT_STREAM_CLOSE_CODES.UNAUTHENTICATED,
      );
      return;
    }
    this.#state = 'connecting';
    void this.#connect(message.token);
  }

  async #connect(token: string): Promise<void> {
    let principal;
    try {
      principal = await authenticateToken(this.deps, token);
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'token invalid';
      this.fail('UNAUTHENTICATED', reason, EVENT_STREAM_CLOSE_CODES.UNAUTHENTICATED);
      return;
    }
    try {
      // The one policy, as for every HTTP route: another project's VM does not exist here.
      await authorizeVm(this.deps, principal, 'vm.console', this.idOrName);
    } catch (error) {
      if (!isDomainError(error)) throw error;
      this.fail(error.code, error.message, 4000 + httpStatusOf(error.code));
      return;
    }
    clearTimeout(this.#timer);
    let upstream: WebSocket;
    try {
      upstream = await this.deps.vms.openConsole(this.idOrName, this.kind);
    } catch (error) {
      if (!isDomainError(error)) {
        this.deps.logger.error({ err: error }, 'console proxy failed');
        this.fail('INTERNAL', 'internal error', 1011);
        return;
      }
      this.fail(error.code, error.message, 4000 + httpStatusOf(error.code));
      return;
    }
    if (this.#state === 'closed') {
      upstream.terminate();
      return;
    }
    this.#upstream = upstream;
    this.#state = 'bridged';
    for (const chunk of this.#pending.splice(0)) upstream.send(chunk, { binary: true });
    pipe(upstream, this.socket);
    upstream.on('close', () => {
      if (this.socket.readyState === OPEN) this.socket.close(1000, 'console closed');
      this.#end();
    });
    upstream.on('error', () => this.#end());
  }

  #end(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#timer);
    this.#upstream?.close();
    if (this.socket.readyState === OPEN) this.socket.close(1000, 'console closed');
  }
}

/** Forwards `from`'s frames to `to` as binary, pausing `from` while `to` has too much unsent. */
function pipe(from: WebSocket, to: WebSocket): void {
  from.on('message', (data: Buffer) => {
    to.send(data, { binary: true }, () => {
      if (from.isPaused && to.bufferedAmount < HIGH_WATER_BYTES) from.resume();
    });
    if (to.bufferedAmount >= HIGH_WATER_BYTES) from.pause();
  });
}
