import WebSocket from 'ws';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';

/** Ctrl-] detaches, as in telnet: a byte a serial session rarely needs. */
export const DETACH_BYTE = 0x1d;

/**
 * `novacron vm console NAME`: attaches the terminal to the VM's serial console (raw mode, stdin to
 * the guest, the guest to stdout) until Ctrl-] or the console closes.
 */
export async function attachConsole(ctx: CliContext, name: string): Promise<void> {
  const client = await ctx.client();
  if (client.console === undefined) {
    throw new CliError('NOT_AVAILABLE', 'this client cannot attach to a console', {}, 2);
  }
  const stdin = process.stdin;
  const stream = client.console(name, {
    WebSocket,
    onData: (bytes) => ctx.deps.stdout.write(Buffer.from(bytes).toString('utf8')),
  });
  ctx.deps.stderr.write(`attached to the serial console of ${name}; Ctrl-] detaches\r\n`);
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  const onInput = (chunk: Buffer) => {
    const at = chunk.indexOf(DETACH_BYTE);
    if (at === -1) {
      stream.send(new Uint8Array(chunk));
      return;
    }
    if (at > 0) stream.send(new Uint8Array(chunk.subarray(0, at)));
    stream.close();
  };
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on('data', onInput);
  stdin.resume();
  try {
    await stream.done;
  } finally {
    stdin.off('data', onInput);
    stdin.pause();
    if (stdin.isTTY) stdin.setRawMode(wasRaw);
    ctx.deps.stderr.write(`\r\ndetached from ${name}\n`);
  }
}
