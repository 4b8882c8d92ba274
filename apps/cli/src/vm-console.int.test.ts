import type { NovaCronClient } from '@novacron/client';
import { NovaCronApiError, type ConsoleSocketConstructor } from '@novacron/client';
import { waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startEmbeddedTestbed, type EmbeddedTestbed } from './testing.js';

// Consoles through the real server, agent and QEMU (docs/adr/0012-console.md).
const Socket = WebSocket as unknown as ConsoleSocketConstructor;

describe('VM consoles over WebSocket', () => {
  let testbed: EmbeddedTestbed | undefined;
  let client: NovaCronClient;

  beforeAll(async () => {
    testbed = await startEmbeddedTestbed();
    client = testbed.client;
    const create = await client.vms.create({ name: 'con', image: 'tiny', memoryMiB: 128 });
    expect(await client.operations.wait(create.id, 120)).toMatchObject({ status: 'succeeded' });
  }, 240_000);

  afterAll(async () => {
    await testbed?.close();
  }, 60_000);

  it('streams HEARTBEAT lines live from the serial console', async () => {
    let received = '';
    const stream = client.console('con', {
      WebSocket: Socket,
      onData: (bytes) => {
        received += Buffer.from(bytes).toString('utf8');
      },
    });
    try {
      // Two heartbeats that arrive after attaching: the stream is live, not a replay.
      const counts = await waitFor(
        'two heartbeats on the console',
        () => {
          const seen = [...received.matchAll(/HEARTBEAT (\d+) /g)].map((m) => Number(m[1]));
          return Promise.resolve(seen.length >= 2 ? seen : undefined);
        },
        60_000,
        100,
      );
      expect(counts[1]).toBe((counts[0] ?? 0) + 1);
      // The tiny guest has no shell on ttyS0: writing must not break the stream.
      stream.send('echo hello\n');
      const before = received.length;
      await waitFor(
        'another heartbeat after writing',
        () => Promise.resolve(received.length > before ? true : undefined),
        30_000,
        100,
      );
    } finally {
      stream.close();
    }
    await stream.done;
  }, 120_000);

  it('the VNC WebSocket carries the RFB greeting', async () => {
    let received = Buffer.alloc(0);
    const stream = client.console('con', {
      kind: 'vnc',
      WebSocket: Socket,
      onData: (bytes) => {
        received = Buffer.concat([received, bytes]);
      },
    });
    try {
      await waitFor(
        'the RFB greeting',
        () => Promise.resolve(received.length >= 12 ? true : undefined),
        30_000,
        50,
      );
      expect(received.subarray(0, 12).toString('latin1')).toBe('RFB 003.008\n');
    } finally {
      stream.close();
    }
    await stream.done;
  }, 60_000);

  it('refuses an unknown VM with 4404, and a token in the URL with 4401', async () => {
    const unknown = client.console('nope', { WebSocket: Socket, onData: () => undefined });
    const error = await unknown.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NovaCronApiError);
    expect(error).toMatchObject({ code: 'VM_NOT_FOUND', status: 404 });

    const url = `${testbed!.embedded.server.url.replace(/^http/, 'ws')}/api/v1/vms/con/console?token=abc`;
    const closed = await new Promise<{ code: number; frames: string[] }>((resolve) => {
      const frames: string[] = [];
      const socket = new WebSocket(url);
      socket.on('message', (data: Buffer) => frames.push(data.toString('utf8')));
      socket.on('close', (code) => resolve({ code, frames }));
    });
    expect(closed.code).toBe(4401);
    expect(JSON.parse(closed.frames[0] ?? '{}')).toMatchObject({
      type: 'error',
      error: { code: 'UNAUTHENTICATED' },
    });

    const noAuth = await new Promise<number>((resolve) => {
      const socket = new WebSocket(url.replace('?token=abc', ''));
      socket.on('open', () => socket.send(Buffer.from('raw bytes first')));
      socket.on('close', (code) => resolve(code));
    });
    expect(noAuth).toBe(4401);
  }, 30_000);
});
