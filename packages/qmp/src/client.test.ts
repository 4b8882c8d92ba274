import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QmpClient } from './client.js';
import { QmpCommandError, QmpDisconnectedError, QmpTimeoutError } from './errors.js';
import { FakeQmpCommandError, FakeQmpServer, type FakeQmpServerOptions } from './fake-server.js';
import type { QmpEvent } from './types.js';

let dir: string;
let server: FakeQmpServer | undefined;
let client: QmpClient | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmp-'));
});

afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function start(options: FakeQmpServerOptions = {}): Promise<QmpClient> {
  server = await FakeQmpServer.listen(join(dir, 'qmp.sock'), options);
  client = await QmpClient.connect(server.socketPath, { timeoutMs: 2_000 });
  return client;
}

describe('QmpClient', () => {
  it('negotiates capabilities and runs typed commands', async () => {
    const qmp = await start({ version: { major: 7, minor: 2, micro: 22 } });
    expect(qmp.greeting.QMP.version.qemu).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(server?.received[0]?.command).toBe('qmp_capabilities');
    const status = await qmp.execute('query-status');
    expect(status).toMatchObject({ status: 'running', running: true });
    const version = await qmp.execute('query-version');
    expect(version.qemu.minor).toBe(2);
  });

  it('matches pipelined replies to their commands by id', async () => {
    const qmp = await start({
      handlers: {
        'slow-echo': async (args) => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          return args;
        },
        'fast-echo': (args) => args,
      },
    });
    const slow = qmp.executeRaw('slow-echo', { n: 1 });
    const fast = qmp.executeRaw('fast-echo', { n: 2 });
    const order: number[] = [];
    void slow.then(() => order.push(1));
    void fast.then(() => order.push(2));
    expect(await Promise.all([slow, fast])).toEqual([{ n: 1 }, { n: 2 }]);
    expect(order).toEqual([2, 1]);
  });

  it('turns a QMP error object into QmpCommandError with class and desc', async () => {
    const qmp = await start({
      handlers: {
        'human-monitor-command': () => {
          throw new FakeQmpCommandError('DeviceNotFound', "Device 'x' not found");
        },
      },
    });
    const failure = await qmp
      .execute('human-monitor-command', { 'command-line': 'info x' })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(QmpCommandError);
    expect(failure).toMatchObject({
      class: 'DeviceNotFound',
      desc: "Device 'x' not found",
      code: 'QMP_COMMAND_FAILED',
    });
    await expect(qmp.executeRaw('no-such-command')).rejects.toMatchObject({
      class: 'CommandNotFound',
    });
  });

  it('bounds each command by ms or AbortSignal and stays usable afterwards', async () => {
    const qmp = await start({ handlers: { hang: () => new Promise(() => undefined) } });
    await expect(qmp.executeRaw('hang', undefined, { timeoutMs: 50 })).rejects.toMatchObject({
      name: 'QmpTimeoutError',
      command: 'hang',
      timeoutMs: 50,
    });
    await expect(
      qmp.executeRaw('hang', undefined, { signal: AbortSignal.timeout(50) }),
    ).rejects.toBeInstanceOf(QmpTimeoutError);
    const controller = new AbortController();
    const aborted = qmp.executeRaw('hang', undefined, { signal: controller.signal });
    controller.abort(new Error('user gave up'));
    await expect(aborted).rejects.toThrow('user gave up');
    expect((await qmp.execute('query-status')).running).toBe(true);
  });

  it('delivers events as an async iterable to each subscription', async () => {
    const qmp = await start();
    const first = qmp.events();
    const second = qmp.events();
    await qmp.execute('stop');
    await qmp.execute('cont');
    const seen: string[] = [];
    for await (const event of first) {
      seen.push(event.event);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['STOP', 'RESUME']);
    expect((await second.next()).value).toMatchObject({ event: 'STOP' });
    await second.return?.();
  });

  it('waits for an event caused by a command, e.g. SHUTDOWN after an honoured powerdown', async () => {
    const qmp = await start({ onPowerdown: 'exit', powerdownDelayMs: 20 });
    const shutdown = qmp.waitForEvent('SHUTDOWN', { timeoutMs: 1_000 });
    await qmp.execute('system_powerdown');
    const event: QmpEvent = await shutdown;
    expect(event.data).toEqual({ guest: true, reason: 'guest-shutdown' });
    await qmp.closed;
    expect(qmp.connected).toBe(false);
  });

  it('times out waiting for an event the guest never sends', async () => {
    const qmp = await start({ onPowerdown: 'ignore' });
    const shutdown = qmp.waitForEvent('SHUTDOWN', { timeoutMs: 100 });
    await qmp.execute('system_powerdown');
    await expect(shutdown).rejects.toBeInstanceOf(QmpTimeoutError);
  });

  it('fails pending commands and ends event streams when QEMU hangs up', async () => {
    const qmp = await start({ handlers: { hang: () => new Promise(() => undefined) } });
    const events = qmp.events();
    const pending = qmp.executeRaw('hang');
    await new Promise((resolve) => setTimeout(resolve, 20));
    server?.dropConnections();
    await expect(pending).rejects.toBeInstanceOf(QmpDisconnectedError);
    expect(await events.next()).toEqual({ value: undefined, done: true });
    expect(await qmp.closed).toBeInstanceOf(QmpDisconnectedError);
    await expect(qmp.execute('query-status')).rejects.toMatchObject({ code: 'QMP_DISCONNECTED' });
  });

  it('treats the hang-up after quit as success', async () => {
    const qmp = await start();
    await expect(qmp.execute('quit')).resolves.toEqual({});
    await qmp.closed;
    expect(server?.exited).toBe(true);
  });

  it('times out the handshake against a socket that never greets', async () => {
    server = await FakeQmpServer.listen(join(dir, 'qmp.sock'), { silent: true });
    const started = Date.now();
    await expect(QmpClient.connect(server.socketPath, { timeoutMs: 100 })).rejects.toMatchObject({
      name: 'QmpTimeoutError',
      command: 'connect',
    });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('reports a missing socket as QmpDisconnectedError', async () => {
    await expect(QmpClient.connect(join(dir, 'absent.sock'))).rejects.toMatchObject({
      name: 'QmpDisconnectedError',
      message: expect.stringContaining('ENOENT') as unknown,
    });
  });
});
