import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import type { QmpRunState, QmpVersionTriple } from './types.js';

/** Thrown by a handler to answer with a QMP error object. */
export class FakeQmpCommandError extends Error {
  override readonly name = 'FakeQmpCommandError';

  constructor(
    readonly errorClass: string,
    desc: string,
  ) {
    super(desc);
  }
}

export type FakeQmpHandler = (
  args: Record<string, unknown> | undefined,
  server: FakeQmpServer,
) => unknown;

export interface FakeQmpServerOptions {
  version?: QmpVersionTriple;
  /** Initial run state (default `running`). */
  runState?: QmpRunState;
  /** Never send the greeting: a client should time out. */
  silent?: boolean;
  /**
   * What `system_powerdown` does after its POWERDOWN event: `exit` emits SHUTDOWN and hangs up as
   * a guest that honours ACPI does (after `powerdownDelayMs`); `ignore` is a guest that does not.
   */
  onPowerdown?: 'exit' | 'ignore';
  powerdownDelayMs?: number;
  /** Extra or replacement command handlers. */
  handlers?: Record<string, FakeQmpHandler>;
}

/**
 * A stand-in for one QEMU process's QMP socket, for unit tests of the layers above the client:
 * greeting, capabilities negotiation, a small run-state model (stop, cont, system_reset,
 * system_powerdown, quit) and injectable handlers and events. After `quit` or an honoured
 * powerdown it hangs up and stops listening, as an exiting QEMU does.
 */
export class FakeQmpServer {
  /** Every command received, in order (qmp_capabilities included). */
  readonly received: { command: string; arguments?: Record<string, unknown> }[] = [];
  runState: QmpRunState;
  /** Set once the simulated QEMU has exited. */
  exited = false;
  private readonly sockets = new Set<Socket>();
  private readonly handlers = new Map<string, FakeQmpHandler>();

  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
    private readonly options: FakeQmpServerOptions,
  ) {
    this.runState = options.runState ?? 'running';
    this.installDefaultHandlers();
    for (const [name, handler] of Object.entries(options.handlers ?? {})) {
      this.handlers.set(name, handler);
    }
  }

  static async listen(
    socketPath: string,
    options: FakeQmpServerOptions = {},
  ): Promise<FakeQmpServer> {
    await rm(socketPath, { force: true });
    const server = createServer();
    const fake = new FakeQmpServer(server, socketPath, options);
    server.on('connection', (socket) => fake.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return fake;
  }

  /** Replaces (or adds) the handler of `command`. */
  handle(command: string, handler: FakeQmpHandler): void {
    this.handlers.set(command, handler);
  }

  /** Sends an event to every connected client. */
  emitEvent(event: string, data?: Record<string, unknown>): void {
    const now = Date.now();
    const timestamp = { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 };
    this.broadcast(data === undefined ? { event, timestamp } : { event, data, timestamp });
  }

  /** Hangs up on every client without a word, as a crashing QEMU does. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Simulates QEMU exiting: SHUTDOWN event, hang up, stop listening. */
  exit(reason = 'host-qmp-quit', guest = false): void {
    if (this.exited) return;
    this.exited = true;
    this.runState = 'shutdown';
    this.emitEvent('SHUTDOWN', { guest, reason });
    for (const socket of this.sockets) socket.end();
    this.server.close();
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    this.exited = true;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.socketPath, { force: true });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let negotiated = false;
    let buffered = '';
    if (!this.options.silent) {
      const { major, minor, micro } = this.options.version ?? { major: 7, minor: 2, micro: 0 };
      this.send(socket, {
        QMP: {
          version: { qemu: { major, minor, micro }, package: 'fake' },
          capabilities: ['oob'],
        },
      });
    }
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line === '') continue;
        let message: { execute?: unknown; id?: unknown; arguments?: Record<string, unknown> };
        try {
          message = JSON.parse(line) as typeof message;
        } catch {
          this.send(socket, { error: { class: 'GenericError', desc: 'JSON parse error' } });
          continue;
        }
        const command = String(message.execute);
        const reply = (body: Record<string, unknown>) =>
          this.send(socket, message.id === undefined ? body : { ...body, id: message.id });
        this.received.push(
          message.arguments === undefined ? { command } : { command, arguments: message.arguments },
        );
        if (command === 'qmp_capabilities') negotiated = true;
        else if (!negotiated) {
          reply({
            error: {
              class: 'CommandNotFound',
              desc: "Expecting capabilities negotiation with 'qmp_capabilities'",
            },
          });
          continue;
        }
        void this.run(command, message.arguments).then(reply);
      }
    });
  }

  private async run(
    command: string,
    args: Record<string, unknown> | undefined,
  ): Promise<Record<string, unknown>> {
    const handler = this.handlers.get(command);
    if (!handler) {
      return {
        error: { class: 'CommandNotFound', desc: `The command ${command} has not been found` },
      };
    }
    try {
      const value: unknown = await handler(args, this);
      return { return: value ?? {} };
    } catch (error) {
      if (error instanceof FakeQmpCommandError) {
        return { error: { class: error.errorClass, desc: error.message } };
      }
      return { error: { class: 'GenericError', desc: String(error) } };
    }
  }

  private installDefaultHandlers(): void {
    const { major, minor, micro } = this.options.version ?? { major: 7, minor: 2, micro: 0 };
    this.handlers.set('qmp_capabilities', () => ({}));
    this.handlers.set('query-version', () => ({
      qemu: { major, minor, micro },
      package: 'fake',
    }));
    this.handlers.set('query-status', () => ({
      status: this.runState,
      running: this.runState === 'running',
      singlestep: false,
    }));
    this.handlers.set('stop', () => {
      if (this.runState === 'running') {
        this.runState = 'paused';
        this.emitEvent('STOP');
      }
      return {};
    });
    this.handlers.set('cont', () => {
      if (this.runState !== 'running') {
        this.runState = 'running';
        this.emitEvent('RESUME');
      }
      return {};
    });
    this.handlers.set('system_reset', () => {
      this.emitEvent('RESET', { guest: false, reason: 'host-qmp-system-reset' });
      return {};
    });
    this.handlers.set('system_powerdown', () => {
      this.emitEvent('POWERDOWN');
      if ((this.options.onPowerdown ?? 'exit') === 'exit') {
        setTimeout(() => this.exit('guest-shutdown', true), this.options.powerdownDelayMs ?? 10);
      }
      return {};
    });
    this.handlers.set('quit', () => {
      // Answer first, then exit: QEMU replies to quit before it hangs up.
      setImmediate(() => this.exit());
      return {};
    });
  }

  private send(socket: Socket, message: unknown): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\r\n`);
  }

  private broadcast(message: unknown): void {
    for (const socket of this.sockets) this.send(socket, message);
  }
}
