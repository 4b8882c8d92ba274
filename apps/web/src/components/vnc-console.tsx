'use client';

import type { ConsoleSocketConstructor, ConsoleStream, NovaCronClient } from '@novacron/client';
import { useEffect, useRef, useState } from 'react';
import { useApi } from '../lib/session';
import { Button, ErrorBox, Spinner } from './ui';

type Handler = ((event: unknown) => void) | null;

/**
 * What noVNC reads from and writes to, in place of a WebSocket: the client's VNC console stream
 * (which authenticates with its first message, as the server requires), shaped like the raw
 * channel noVNC accepts (send, close, binaryType, protocol, readyState and the on* handlers).
 */
class VncChannel {
  binaryType = 'arraybuffer';
  protocol = '';
  readyState = 0;
  onopen: Handler = null;
  onmessage: Handler = null;
  onerror: Handler = null;
  onclose: Handler = null;
  private readonly stream: ConsoleStream;

  constructor(client: NovaCronClient, vmId: string, onFailure: (error: unknown) => void) {
    const opened = () => {
      this.readyState = 1;
      this.onopen?.({});
    };
    // The client's socket, observed: open is reported once its auth message has gone out.
    class ObservedSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        this.addEventListener('open', () => queueMicrotask(opened));
      }
    }
    this.stream = client.console(vmId, {
      kind: 'vnc',
      // The DOM types its send() more narrowly than the client's structural type; same class.
      WebSocket: ObservedSocket as unknown as ConsoleSocketConstructor,
      onData: (bytes) => {
        const copy = new Uint8Array(bytes.byteLength);
        copy.set(bytes);
        this.onmessage?.({ data: copy.buffer });
      },
    });
    this.stream.done.then(
      () => this.closed(1000, ''),
      (error: unknown) => {
        onFailure(error);
        this.closed(1006, error instanceof Error ? error.message : String(error));
      },
    );
  }

  send(data: ArrayBuffer | Uint8Array): void {
    this.stream.send(data instanceof Uint8Array ? data : new Uint8Array(data));
  }

  close(): void {
    this.stream.close();
  }

  private closed(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason, wasClean: code === 1000 });
  }
}

interface RfbLike {
  scaleViewport: boolean;
  resizeSession: boolean;
  disconnect(): void;
  sendCtrlAltDel(): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
}

/** The VM's graphical console through noVNC, over the server's VNC WebSocket. */
export function VncConsole({ vmId }: { vmId: string }) {
  const api = useApi();
  const box = useRef<HTMLDivElement>(null);
  const rfb = useRef<RfbLike | undefined>(undefined);
  const [status, setStatus] = useState<'connecting' | 'connected' | 'disconnected'>('connecting');
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    let disposed = false;
    setStatus('connecting');
    setError(undefined);
    void import('@novnc/novnc').then(({ default: RFB }) => {
      const element = box.current;
      if (disposed || element === null) return;
      const channel = new VncChannel(api, vmId, (failure) => !disposed && setError(failure));
      const client = new RFB(element, channel as unknown as WebSocket, { shared: true }) as RfbLike;
      client.scaleViewport = true;
      client.resizeSession = false;
      client.addEventListener('connect', () => !disposed && setStatus('connected'));
      client.addEventListener('disconnect', () => !disposed && setStatus('disconnected'));
      rfb.current = client;
    });
    return () => {
      disposed = true;
      rfb.current?.disconnect();
      rfb.current = undefined;
    };
  }, [api, vmId]);

  return (
    <div className="flex flex-col gap-2">
      <div className="flex items-center justify-between text-xs text-muted">
        <span data-vnc-status={status}>
          {status === 'connecting' ? (
            <Spinner label="Connecting" />
          ) : status === 'connected' ? (
            'Connected'
          ) : (
            'Disconnected'
          )}
        </span>
        <Button
          variant="ghost"
          disabled={status !== 'connected'}
          onClick={() => rfb.current?.sendCtrlAltDel()}
        >
          Send Ctrl-Alt-Del
        </Button>
      </div>
      <ErrorBox error={error} title="VNC console" />
      <div
        ref={box}
        data-testid="vnc-console"
        role="region"
        aria-label="Graphical console"
        className="h-[28rem] w-full overflow-hidden rounded-md bg-black"
      />
    </div>
  );
}
