'use client';

import type { ConsoleStream } from '@novacron/client';
import { useEffect, useRef, useState } from 'react';
import '@xterm/xterm/css/xterm.css';
import { useApi } from '../lib/session';
import { ErrorBox, Spinner } from './ui';

/** How much of the kept serial log to show before the live stream (the stream has no history). */
const HISTORY_BYTES = 64 * 1024;

/**
 * The VM's serial console in xterm.js: the tail of the log the host kept, then the live stream
 * (keystrokes go to the guest). xterm touches the DOM when loaded, so it loads in the browser only.
 */
export function SerialConsole({ vmId }: { vmId: string }) {
  const api = useApi();
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<'connecting' | 'attached' | 'closed'>('connecting');
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    let disposed = false;
    let stream: ConsoleStream | undefined;
    let cleanup: (() => void) | undefined;
    setStatus('connecting');
    setError(undefined);
    void (async () => {
      const [{ Terminal }, { FitAddon }] = await Promise.all([
        import('@xterm/xterm'),
        import('@xterm/addon-fit'),
      ]);
      const element = box.current;
      if (disposed || element === null) return;
      const terminal = new Terminal({
        convertEol: true,
        cursorBlink: true,
        fontSize: 13,
        fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace',
        scrollback: 5000,
        theme: { background: '#0b0d10', foreground: '#d8dee9' },
      });
      const fit = new FitAddon();
      terminal.loadAddon(fit);
      terminal.open(element);
      fit.fit();
      const observer = new ResizeObserver(() => fit.fit());
      observer.observe(element);
      cleanup = () => {
        observer.disconnect();
        terminal.dispose();
      };
      try {
        terminal.write(await api.vms.consoleOutput(vmId, { tailBytes: HISTORY_BYTES }));
      } catch (failure) {
        if (!disposed) setError(failure);
      }
      if (disposed) return;
      stream = api.console(vmId, {
        kind: 'serial',
        onData: (bytes) => terminal.write(bytes),
      });
      const input = terminal.onData((data) => stream?.send(data));
      const previous = cleanup;
      cleanup = () => {
        input.dispose();
        previous();
      };
      setStatus('attached');
      stream.done.then(
        () => !disposed && setStatus('closed'),
        (failure: unknown) => {
          if (disposed) return;
          setStatus('closed');
          setError(failure);
        },
      );
    })();
    return () => {
      disposed = true;
      stream?.close();
      cleanup?.();
    };
  }, [api, vmId]);

  return (
    <div className="flex flex-col gap-2">
      <div className="flex items-center justify-between text-xs text-muted">
        <span data-console-status={status}>
          {status === 'connecting' ? (
            <Spinner label="Connecting" />
          ) : status === 'attached' ? (
            'Attached: keystrokes go to the guest'
          ) : (
            'Detached'
          )}
        </span>
      </div>
      <ErrorBox error={error} title="Serial console" />
      <div
        ref={box}
        data-testid="serial-console"
        className="h-96 w-full overflow-hidden rounded-md bg-[#0b0d10] p-2"
        aria-label="Serial console"
        role="region"
      />
    </div>
  );
}
