import type { NovaCronClient } from '@novacron/client';
import { NovaCronApiError, type ConsoleSocketConstructor } from '@novacron/client';
import { waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startEmbeddedTestbed, type EmbeddedTestbed } from './testing.js';

// Snapshots, clones and templates with real QEMU (docs/adr/0022-snapshots-clones-templates.md).
// The guest makes an ext2 file system on its disk (busybox mke2fs; the cloud kernel's ext4 driver
// mounts it) and the tests write and read a file there from its serial shell. Reads come after
// `drop_caches`, so the guest's page cache cannot answer for what the disk holds.

const Socket = WebSocket as unknown as ConsoleSocketConstructor;
/** Where the guest mounts its disk, and the file the tests write. */
const MOUNT = '/mnt/data';
const FILE = `${MOUNT}/note.txt`;

let testbed: EmbeddedTestbed | undefined;
let client: NovaCronClient;
let tag = 100;

beforeAll(async () => {
  testbed = await startEmbeddedTestbed();
  client = testbed.client;
  const create = await client.vms.create({ name: 'snap', image: 'tiny', memoryMiB: 128 });
  expect(await client.operations.wait(create.id, 120)).toMatchObject({ status: 'succeeded' });
  await booted('snap');
  await shell('snap', `mke2fs -q /dev/vda && mkdir -p ${MOUNT} && mount /dev/vda ${MOUNT}`);
}, 240_000);

afterAll(async () => {
  await testbed?.close();
}, 60_000);

/** Waits for the guest's READY marker (the `count`th one: a restart prints it again). */
async function booted(vm: string, count = 1): Promise<void> {
  await waitFor(
    `${vm} ready (${count})`,
    async () => {
      const log = await client.vms.consoleOutput(vm);
      return log.split('NOVACRON-GUEST-READY').length - 1 >= count ? true : undefined;
    },
    90_000,
    250,
  );
}

/** Types `command` on the VM's serial shell; answers what the console showed until it ended. */
async function shell(vm: string, command: string): Promise<string> {
  tag += 1;
  const done = `CMD-DONE-${tag + 1}`;
  let received = '';
  const stream = client.console(vm, {
    WebSocket: Socket,
    onData: (bytes) => {
      received += Buffer.from(bytes).toString('utf8');
    },
  });
  try {
    await waitFor('the console stream', () => (received ? true : undefined), 30_000, 50);
    // The terminal echoes what is typed: $((...)) makes the marker differ from the echo.
    stream.send(`${command}; echo; echo CMD-DONE-$((${tag}+1))\n`);
    await waitFor(
      `'${command}' on ${vm}`,
      () => (received.includes(done) ? true : undefined),
      60_000,
      100,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; the console showed:\n${received}`);
    });
    return received.slice(0, received.indexOf(done));
  } finally {
    stream.close();
    await stream.done.catch(() => undefined);
  }
}

/** Mounts the guest's file system again after a boot (a restart, a clone's first boot). */
async function mountDisk(vm: string): Promise<void> {
  await shell(vm, `mkdir -p ${MOUNT} && mount /dev/vda ${MOUNT}`);
}

/** Writes `text` into the test file in the guest, synced to the disk. */
async function writeFile(vm: string, text: string): Promise<void> {
  await shell(vm, `echo ${text} > ${FILE} && sync`);
}

/** What the test file in the guest holds, read from the disk (the page cache dropped first). */
async function readFile(vm: string): Promise<string> {
  const out = await shell(vm, `sync; echo 3 > /proc/sys/vm/drop_caches; cat ${FILE}`);
  // The last line before the marker is the answer (the lines above echo the command).
  const lines = out.split(/\r?\n/).map((l) => l.trim());
  return lines.findLast((l) => /^FILE-[A-Z0-9-]+$/.test(l)) ?? `(nothing read) ${out}`;
}

async function succeeded(operation: { id: string }) {
  const done = await client.operations.wait(operation.id, 300);
  expect(done, JSON.stringify(done.error)).toMatchObject({ status: 'succeeded' });
  return done;
}

async function apiError(call: Promise<unknown>): Promise<{ status: number; code: string }> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NovaCronApiError);
  const { status, code } = error as NovaCronApiError;
  return { status, code };
}

describe('VM snapshots', () => {
  it('a disk-only revert restores a file written after the snapshot (the guest restarts)', async () => {
    await writeFile('snap', 'FILE-BEFORE-DISK');
    const started = Date.now();
    await succeeded(await client.vms.createSnapshot('snap', { name: 'disk-only' }));
    console.log(`snapshots: disk-only snapshot of a running VM in ${Date.now() - started} ms`);
    await writeFile('snap', 'FILE-AFTER-DISK');
    expect(await readFile('snap')).toBe('FILE-AFTER-DISK');

    const reverting = Date.now();
    const revert = await succeeded(await client.vms.revertSnapshot('snap', 'disk-only'));
    console.log(
      `snapshots: disk-only revert (power off, revert, start) in ${Date.now() - reverting} ms`,
    );
    expect(revert.result).toMatchObject({ snapshot: 'disk-only', state: 'running' });
    await booted('snap', 2);
    await mountDisk('snap');
    expect(await readFile('snap')).toBe('FILE-BEFORE-DISK');
    expect(await client.vms.get('snap')).toMatchObject({
      state: 'running',
      desiredState: 'running',
    });
  }, 240_000);

  it('a revert with memory resumes the running guest at the snapshot, without a reboot', async () => {
    await writeFile('snap', 'FILE-BEFORE-RAM');
    const started = Date.now();
    const taken = await succeeded(
      await client.vms.createSnapshot('snap', { name: 'with-ram', memory: true }),
    );
    console.log(
      `snapshots: snapshot with memory in ${Date.now() - started} ms, ${String(taken.result?.vmStateBytes)} bytes of guest state`,
    );
    const at = heartbeat(await client.vms.consoleOutput('snap'));
    await writeFile('snap', 'FILE-AFTER-RAM');
    // Time passes in the guest after the snapshot.
    await waitFor(
      'heartbeats after the snapshot',
      async () => (heartbeat(await client.vms.consoleOutput('snap')) >= at + 3 ? true : undefined),
      60_000,
      250,
    );
    const logBefore = await client.vms.consoleOutput('snap');
    const before = heartbeat(logBefore);

    const reverting = Date.now();
    await succeeded(await client.vms.revertSnapshot('snap', 'with-ram'));
    console.log(`snapshots: revert with memory in ${Date.now() - reverting} ms`);
    expect(await readFile('snap')).toBe('FILE-BEFORE-RAM');
    // The guest went on from the snapshot: its heartbeat counter went back, and it did not boot.
    const log = await client.vms.consoleOutput('snap');
    const next = [...log.slice(logBefore.length).matchAll(/HEARTBEAT (\d+) /g)].map((m) =>
      Number(m[1]),
    );
    expect(next.some((n) => n < before)).toBe(true);
    expect(log.split('NOVACRON-GUEST-READY').length - 1).toBe(2);

    expect((await client.vms.listSnapshots('snap')).items).toMatchObject([
      { name: 'disk-only', memory: false, vmState: 'running' },
      { name: 'with-ram', memory: true, vmState: 'running' },
    ]);
  }, 240_000);

  it('a clone boots while its source runs, with the source disk content and its own identity', async () => {
    const started = Date.now();
    const op = await succeeded(await client.vms.clone('snap', { name: 'snap-clone' }));
    console.log(
      `snapshots: clone of a running VM (blockdev-backup) booting in ${Date.now() - started} ms`,
    );
    expect(op.result).toMatchObject({ method: 'backup', state: 'running' });
    await booted('snap-clone');
    const [source, clone] = await Promise.all([
      client.vms.get('snap'),
      client.vms.get('snap-clone'),
    ]);
    expect(source.state).toBe('running');
    expect(clone).toMatchObject({ state: 'running', host: source.host, baseVm: null });
    expect(clone.id).not.toBe(source.id);
    await mountDisk('snap-clone');
    expect(await readFile('snap-clone')).toBe('FILE-BEFORE-RAM');
    // The clone's disk is its own: a write there leaves the source's alone.
    await writeFile('snap-clone', 'FILE-CLONE');
    expect(await readFile('snap')).toBe('FILE-BEFORE-RAM');
    // Snapshots stay with their VM.
    expect((await client.vms.listSnapshots('snap-clone')).items).toEqual([]);
  }, 240_000);

  it('refuses bad input with a stable code and changes nothing', async () => {
    const other = await client.vms.create({ name: 'other', image: 'tiny', start: false });
    await succeeded(other);
    await succeeded(await client.vms.createSnapshot('other', { name: 'theirs' }));

    // Another VM's snapshot, a missing one, a bad name.
    expect(await apiError(client.vms.revertSnapshot('snap', 'theirs'))).toEqual({
      status: 404,
      code: 'SNAPSHOT_NOT_FOUND',
    });
    expect(await apiError(client.vms.deleteSnapshot('snap', 'nope'))).toEqual({
      status: 404,
      code: 'SNAPSHOT_NOT_FOUND',
    });
    expect(await apiError(client.vms.clone('snap', { name: 'c2', snapshot: 'nope' }))).toEqual({
      status: 404,
      code: 'SNAPSHOT_NOT_FOUND',
    });
    expect(await apiError(client.vms.createSnapshot('snap', { name: '1; reboot' }))).toEqual({
      status: 400,
      code: 'VALIDATION_FAILED',
    });
    expect(await apiError(client.vms.createSnapshot('snap', { name: 'with-ram' }))).toEqual({
      status: 409,
      code: 'SNAPSHOT_NAME_TAKEN',
    });
    expect(
      await apiError(client.vms.createSnapshot('other', { name: 'ram', memory: true })),
    ).toEqual({ status: 409, code: 'VM_INVALID_STATE' });
    // Snapshots in a local disk would not survive a migration.
    expect(await apiError(client.vms.migrate('snap'))).toEqual({
      status: 409,
      code: 'VM_HAS_SNAPSHOTS',
    });
    expect(await apiError(client.vms.markTemplate('other'))).toEqual({
      status: 409,
      code: 'VM_HAS_SNAPSHOTS',
    });
    expect(await apiError(client.vms.markTemplate('snap'))).toEqual({
      status: 409,
      code: 'VM_INVALID_STATE',
    });
    expect((await client.vms.get('snap')).state).toBe('running');
    expect((await client.vms.listSnapshots('snap')).items.map((s) => s.name)).toEqual([
      'disk-only',
      'with-ram',
    ]);

    await succeeded(await client.vms.deleteSnapshot('other', 'theirs'));
    expect((await client.vms.listSnapshots('other')).items).toEqual([]);
  }, 120_000);
});

describe('templates', () => {
  it('a stopped VM becomes an immutable template; a linked clone of it boots', async () => {
    await succeeded(
      await client.vms.create({ name: 'tpl', image: 'tiny', start: false, memoryMiB: 128 }),
    );
    const template = await client.vms.markTemplate('tpl');
    expect(template).toMatchObject({ template: true, state: 'stopped' });

    expect(await apiError(client.vms.action('tpl', { action: 'start' }))).toEqual({
      status: 409,
      code: 'VM_IS_TEMPLATE',
    });
    expect(await apiError(client.vms.createSnapshot('tpl', { name: 's' }))).toEqual({
      status: 409,
      code: 'VM_IS_TEMPLATE',
    });
    expect(await apiError(client.vms.patch('tpl', { cpus: 2 }))).toEqual({
      status: 409,
      code: 'VM_IS_TEMPLATE',
    });

    const started = Date.now();
    const op = await succeeded(await client.vms.clone('tpl', { name: 'from-tpl' }));
    console.log(`snapshots: linked clone of a template booting in ${Date.now() - started} ms`);
    expect(op.result).toMatchObject({ method: 'linked' });
    await booted('from-tpl');
    expect(await client.vms.get('from-tpl')).toMatchObject({
      baseVm: template.id,
      state: 'running',
    });

    expect(await apiError(client.vms.delete('tpl'))).toEqual({
      status: 409,
      code: 'TEMPLATE_IN_USE',
    });
    expect(await apiError(client.vms.migrate('from-tpl'))).toEqual({
      status: 409,
      code: 'MIGRATION_NOT_POSSIBLE',
    });
    expect((await client.vms.get('tpl')).state).toBe('stopped');
  }, 240_000);
});

function heartbeat(log: string): number {
  return Number([...log.matchAll(/HEARTBEAT (\d+) /g)].at(-1)?.[1] ?? 0);
}
