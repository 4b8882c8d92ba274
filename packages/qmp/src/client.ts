import { createConnection, type Socket } from 'node:net';
import {
  QmpCommandError,
  QmpDisconnectedError,
  QmpProtocolError,
  QmpTimeoutError,
} from './errors.js';
import { EventQueue } from './event-queue.js';
import type {
  QmpCommandName,
  QmpEvent,
  QmpExecuteOptions,
  QmpExecuteRest,
  QmpGreeting,
  QmpReturn,
} from './types.js';

export interface QmpConnectOptions {
  /** Bound for connecting, the greeting and capabilities negotiation together (default 5 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Default deadline of every command that does not bring its own (default 30 s). */
  commandTimeoutMs?: number;
}

export interface QmpEventsOptions {
  /** Events kept for a slow reader before the oldest are dropped (default 1000). */
  bufferLimit?: number;
}

interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

// A QMP line is small; anything this large without a newline is not QMP.
const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * A connection to one QEMU monitor socket. Commands may be pipelined: replies are matched by
 * `id`. Events are delivered to every `events()` subscription open when they arrive.
 */
export class QmpClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly subscribers = new Set<EventQueue<QmpEvent>>();
  private buffered = '';
  private disconnected: QmpDisconnectedError | null = null;
  private greetingWaiter: { resolve(): void; reject(error: Error): void } | null = null;
  private greetingValue: QmpGreeting | null = null;
  private resolveClosed!: (error: QmpDisconnectedError) => void;

  /** Settles (never rejects) once the connection is gone, with the reason. */
  readonly closed: Promise<QmpDisconnectedError>;

  private constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
    private readonly commandTimeoutMs: number,
  ) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (error) => this.markDisconnected(describeSocketError(socketPath, error)));
    socket.on('close', () => this.markDisconnected(`QMP connection to ${socketPath} closed`));
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(socketPath: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? 5_000;
    const socket = createConnection({ path: socketPath });
    const client = new QmpClient(socket, socketPath, options.commandTimeoutMs ?? 30_000);
    const deadline = Date.now() + timeoutMs;

    let timer: NodeJS.Timeout | undefined;
    let abortListener: (() => void) | undefined;
    const bounded = new Promise<never>((_, reject) => {
      const fail = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      timer = setTimeout(() => fail(new QmpTimeoutError('connect', timeoutMs)), timeoutMs);
      abortListener = () => fail(abortReason(options.signal, 'connect'));
      if (options.signal?.aborted) abortListener();
      options.signal?.addEventListener('abort', abortListener, { once: true });
    });

    const handshake = (async () => {
      await client.waitForGreeting();
      await client.execute('qmp_capabilities', undefined, {
        timeoutMs: Math.max(1, deadline - Date.now()),
      });
      return client;
    })();

    try {
      return await Promise.race([handshake, bounded]);
    } catch (error) {
      socket.destroy();
      handshake.catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
      if (abortListener) options.signal?.removeEventListener('abort', abortListener);
    }
  }

  /** The greeting QEMU sent: its version and capabilities. */
  get greeting(): QmpGreeting {
    if (!this.greetingValue) throw new QmpProtocolError('no QMP greeting received yet');
    return this.greetingValue;
  }

  get connected(): boolean {
    return this.disconnected === null;
  }

  /** Runs a typed command; rejects with QmpCommandError, QmpTimeoutError or QmpDisconnectedError. */
  execute<C extends QmpCommandName>(command: C, ...rest: QmpExecuteRest<C>): Promise<QmpReturn<C>> {
    const [args, options] = rest;
    return this.executeRaw(command, args, options) as Promise<QmpReturn<C>>;
  }

  /** Runs any command, untyped: the escape hatch for commands not yet in QmpCommands. */
  executeRaw(
    command: string,
    args?: Record<string, unknown>,
    options: QmpExecuteOptions = {},
  ): Promise<unknown> {
    if (this.disconnected) {
      return Promise.reject(new QmpDisconnectedError(this.disconnected.message));
    }
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    const { signal } = options;

    return new Promise<unknown>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => settle(() => reject(abortReason(signal, command)));
      const settle = (action: () => void) => {
        if (!this.pending.delete(id)) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        action();
      };
      this.pending.set(id, {
        command,
        resolve: (value) => settle(() => resolve(value)),
        reject: (error) => settle(() => reject(error)),
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () => settle(() => reject(new QmpTimeoutError(command, timeoutMs))),
          timeoutMs,
        );
      }
      const message =
        args === undefined ? { execute: command, id } : { execute: command, id, arguments: args };
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /**
   * A subscription to the events that arrive from now on, as an async iterable. It ends when the
   * connection closes; leaving a `for await` loop early unsubscribes.
   */
  events(options: QmpEventsOptions = {}): AsyncIterableIterator<QmpEvent> {
    const queue: EventQueue<QmpEvent> = new EventQueue(options.bufferLimit ?? 1000, () =>
      this.subscribers.delete(queue),
    );
    if (this.disconnected) queue.end();
    else this.subscribers.add(queue);
    return queue;
  }

  /**
   * Resolves with the first event named `name` (and accepted by `filter`) that arrives from now
   * on. Subscribe before sending the command that causes it, so the event cannot be missed.
   */
  async waitForEvent(
    name: string,
    options: QmpExecuteOptions & { filter?: (event: QmpEvent) => boolean } = {},
  ): Promise<QmpEvent> {
    const events = this.events();
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const bounded = new Promise<never>((_, reject) => {
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () => reject(new QmpTimeoutError(`event ${name}`, timeoutMs)),
          timeoutMs,
        );
      }
      onAbort = () => reject(abortReason(options.signal, `event ${name}`));
      if (options.signal?.aborted) onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
    const found = (async () => {
      for await (const event of events) {
        if (event.event === name && (options.filter?.(event) ?? true)) return event;
      }
      throw new QmpDisconnectedError(
        this.disconnected?.message ?? `QMP connection closed before ${name}`,
      );
    })();
    try {
      return await Promise.race([found, bounded]);
    } finally {
      clearTimeout(timer);
      if (onAbort) options.signal?.removeEventListener('abort', onAbort);
      await events.return?.();
      found.catch(() => undefined);
    }
  }

  /** Closes the connection (QEMU keeps running). */
  async close(): Promise<void> {
    if (this.disconnected) return;
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 1_000);
    await this.closed;
    clearTimeout(timer);
  }

  private waitForGreeting(): Promise<void> {
    if (this.greetingValue) return Promise.resolve();
    if (this.disconnected) return Promise.reject(this.disconnected);
    return new Promise((resolve, reject) => {
      this.greetingWaiter = { resolve, reject };
    });
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let newline: number;
    while ((newline = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, newline).trim();
      this.buffered = this.buffered.slice(newline + 1);
      if (line !== '') this.onLine(line);
      if (this.disconnected) return;
    }
    if (this.buffered.length > MAX_LINE_BYTES) {
      this.fail(new QmpProtocolError(`QMP line longer than ${MAX_LINE_BYTES} bytes`));
    }
  }

  private onLine(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      return this.fail(new QmpProtocolError(`not a JSON line from QMP: ${line.slice(0, 200)}`));
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return this.fail(new QmpProtocolError(`not a JSON object from QMP: ${line.slice(0, 200)}`));
    }
    const record = message as Record<string, unknown>;
    if ('QMP' in record) {
      this.greetingValue = record as unknown as QmpGreeting;
      this.greetingWaiter?.resolve();
      this.greetingWaiter = null;
    } else if (typeof record.event === 'string') {
      const event: QmpEvent = {
        event: record.event,
        data: (record.data as Record<string, unknown> | undefined) ?? {},
        timestamp: (record.timestamp as QmpEvent['timestamp'] | undefined) ?? {
          seconds: 0,
          microseconds: 0,
        },
      };
      for (const subscriber of this.subscribers) subscriber.push(event);
    } else if ('return' in record || 'error' in record) {
      // A reply without our id answers a line QEMU could not parse; nothing to match it to.
      const pending = typeof record.id === 'number' ? this.pending.get(record.id) : undefined;
      if (!pending) return;
      if ('error' in record) {
        const error = record.error as { class?: unknown; desc?: unknown } | null;
        pending.reject(
          new QmpCommandError(
            pending.command,
            typeof error?.class === 'string' ? error.class : 'GenericError',
            typeof error?.desc === 'string' ? error.desc : JSON.stringify(error),
          ),
        );
      } else {
        pending.resolve(record.return);
      }
    }
  }

  private fail(error: QmpProtocolError): void {
    this.markDisconnected(error.message);
    this.socket.destroy();
  }

  private markDisconnected(reason: string): void {
    if (this.disconnected) return;
    const error = new QmpDisconnectedError(reason);
    this.disconnected = error;
    for (const [, pending] of this.pending) {
      // `quit` succeeded if QEMU hung up on us: that is what it was asked to do.
      if (pending.command === 'quit') pending.resolve({});
      else pending.reject(new QmpDisconnectedError(`${reason} (while running ${pending.command})`));
    }
    for (const subscriber of this.subscribers) subscriber.end();
    this.subscribers.clear();
    this.greetingWaiter?.reject(error);
    this.greetingWaiter = null;
    this.resolveClosed(error);
  }
}

function describeSocketError(socketPath: string, error: NodeJS.ErrnoException): string {
  return `QMP socket ${socketPath}: ${error.code ?? error.message}`;
}

/** An AbortSignal.timeout() abort becomes a QmpTimeoutError; any other reason is kept. */
function abortReason(signal: AbortSignal | undefined, command: string): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new QmpTimeoutError(command, null);
  }
  if (reason instanceof Error) return reason;
  const aborted = new Error(`QMP ${command} aborted`);
  aborted.name = 'AbortError';
  return aborted;
}
