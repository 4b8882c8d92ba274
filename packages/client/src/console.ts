import { NovaCronApiError, NovaCronConnectionError } from './errors.js';

/** The WebSocket surface a console stream uses (a browser's own, or the ws package's in Node). */
export interface ConsoleSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string | ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
}

export type ConsoleSocketConstructor = new (url: string) => ConsoleSocketLike;

export type ConsoleKind = 'serial' | 'vnc';

export interface ConsoleStreamOptions {
  /** `serial` (GET /api/v1/vms/{idOrName}/console) or `vnc` (.../vnc, the RFB byte stream). */
  kind?: ConsoleKind;
  /** Each chunk of bytes from the VM, in order. */
  onData: (bytes: Uint8Array) => void;
  /** The WebSocket class; default the global one. Node 20 has none: pass the `ws` package's. */
  WebSocket?: ConsoleSocketConstructor;
}

export interface ConsoleStream {
  /** Sends bytes to the VM (keystrokes on the serial console, RFB messages on VNC). */
  send(bytes: Uint8Array | string): void;
  close(): void;
  /**
   * Resolves when the console closes normally (by `close()` or the VM's side); rejects with
   * NovaCronApiError when the server refuses it (token, unknown VM, not running), or with
   * NovaCronConnectionError when the connection fails.
   */
  readonly done: Promise<void>;
}

/** `http://host:8090` -> `ws://host:8090/api/v1/vms/<idOrName>/console`. */
export function consoleUrl(
  baseUrl: string,
  idOrName: string,
  kind: ConsoleKind = 'serial',
): string {
  const url = new URL(
    `${baseUrl.replace(/\/+$/, '')}/api/v1/vms/${encodeURIComponent(idOrName)}/${kind === 'serial' ? 'console' : 'vnc'}`,
  );
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/**
 * Opens a VM's serial console or VNC display through the server (docs/adr/0012-console.md):
 * authenticates with the first message (never in the URL), then carries bytes both ways.
 */
export function openConsoleStream(
  options: ConsoleStreamOptions & { baseUrl: string; idOrName: string; token: string | undefined },
): ConsoleStream {
  const url = consoleUrl(options.baseUrl, options.idOrName, options.kind);
  const Socket =
    options.WebSocket ??
    (globalThis as { WebSocket?: ConsoleSocketConstructor }).WebSocket ??
    undefined;
  if (Socket === undefined) {
    throw new NovaCronConnectionError(url, 'no WebSocket class: pass one (e.g. the ws package)');
  }
  const socket = new Socket(url);
  socket.binaryType = 'arraybuffer';
  let refusal: { code: string; message: string; details?: Record<string, unknown> } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', token: options.token ?? '' }));
    socket.onmessage = (event: never) => {
      const data = (event as { data: unknown }).data;
      if (typeof data === 'string') {
        // Text frames are the server's own: an error before it closes.
        try {
          const frame = JSON.parse(data) as {
            type?: string;
            error?: { code: string; message: string; details?: Record<string, unknown> };
          };
          if (frame.type === 'error' && frame.error !== undefined) {
            refusal = frame.error;
          }
        } catch {
          // Not a frame of ours: ignore it.
        }
        return;
      }
      options.onData(new Uint8Array(data as ArrayBuffer));
    };
    socket.onerror = (event: never) => {
      const message = (event as { message?: string }).message ?? 'connection failed';
      reject(new NovaCronConnectionError(url, message));
    };
    socket.onclose = (event: never) => {
      const { code, reason } = event as { code: number; reason: string };
      // Refusals close with 4000 + the HTTP status of the error (4401, 4404, 4409...).
      const status = code >= 4000 && code < 5000 ? code - 4000 : 500;
      if (refusal !== undefined) {
        reject(new NovaCronApiError(status, refusal.code, refusal.message, refusal.details ?? {}));
      } else if (code === 1000 || code === 1005) resolve();
      else reject(new NovaCronConnectionError(url, `console closed (${code}) ${reason}`));
    };
  });
  return {
    send: (bytes) => {
      if (socket.readyState === 1) {
        socket.send(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
      }
    },
    close: () => socket.close(1000, 'detached'),
    done,
  };
}
