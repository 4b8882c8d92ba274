import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Operation } from '@novacron/api';
import { NovaCronApiError, type ConsoleSocketConstructor } from '@novacron/client';
import type { NovaCronClient } from '@novacron/client';
import { waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startEmbeddedTestbed, type EmbeddedTestbed } from './testing.js';

// Resize and hotplug (docs/adr/0023-resize-and-hotplug.md) with a real tiny guest under TCG,
// through the server and its agent: what the guest itself sees, read on its serial console.

const run = promisify(execFile);
const Socket = WebSocket as unknown as ConsoleSocketConstructor;
// A bridge and subnet of this run only: other runs on the machine may use the default ones.
const n = 20 + ((process.pid + 97) % 200);
const BRIDGE = `nchp${n}`;

let testbed: EmbeddedTestbed | undefined;
let client: NovaCronClient;
let tag = 100;

beforeAll(async () => {
  testbed = await startEmbeddedTestbed({
    NOVACRON_VM_NETWORK: 'on',
    NOVACRON_BRIDGE: BRIDGE,
    NOVACRON_VM_SUBNET: `10.81.${n}.0/24`,
  });
  client = testbed.client;
}, 180_000);

afterAll(async () => {
  await testbed?.close();
  await run('ip', ['link', 'del', 'dev', BRIDGE]).catch(() => undefined);
}, 60_000);

/** Runs `command` in the guest's root shell on its serial console and answers what it printed. */
async function shell(vm: string, command: string): Promise<string> {
  tag += 1;
  const mark = tag;
  let received = '';
  const stream = client.console(vm, {
    WebSocket: Socket,
    onData: (bytes) => {
      received += Buffer.from(bytes).toString('utf8');
    },
  });
  try {
    // Input sent before the stream is attached would be lost: wait for the guest's output.
    await waitFor(
      'the console stream',
      () => Promise.resolve(received ? true : undefined),
      30_000,
      50,
    );
    // The terminal echoes what is typed: $((...)) makes the end marker differ from the echo.
    stream.send(`${command}; echo CMD-END-$((${mark}+1))\n`);
    await waitFor(
      `the end of '${command}' on ${vm}`,
      () => Promise.resolve(received.includes(`CMD-END-${mark + 1}`) ? true : undefined),
      60_000,
      100,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; the console showed:\n${received}`);
    });
    return received;
  } finally {
    stream.close();
    await stream.done.catch(() => undefined);
  }
}

/**
 * `KEY=[value]` as the guest printed it last (the typed command holds `KEY=[$(`, and the stream
 * may start with older output).
 */
async function guestValue(vm: string, key: string, command: string): Promise<string> {
  const out = await shell(vm, `echo "${key}=[$(${command})]"`);
  const value = [...out.matchAll(new RegExp(`${key}=\\[(?!\\$)([^\\]]*)\\]`, 'g'))].at(-1)?.[1];
  if (value === undefined) throw new Error(`no ${key} in:\n${out}`);
  return value.trim();
}

/** Polls the guest until `command` prints what `accept` takes (hotplug completes asynchronously). */
async function guestUntil(
  vm: string,
  key: string,
  command: string,
  accept: (value: string) => boolean,
): Promise<string> {
  let last = '';
  return waitFor(
    `${key} in the guest to change (last: ${last})`,
    async () => {
      last = await guestValue(vm, key, command);
      return accept(last) ? last : undefined;
    },
    60_000,
    500,
  );
}

/** Wall time of each change, request to operation done, printed at the end. */
const timings: string[] = [];

async function settle(accepted: Promise<Operation>, label?: string): Promise<Operation> {
  const start = performance.now();
  const operation = await client.operations.wait((await accepted).id, 120);
  if (label !== undefined) timings.push(`${label} ${Math.round(performance.now() - start)} ms`);
  expect(operation.error ?? null).toBeNull();
  expect(operation.status).toBe('succeeded');
  return operation;
}

async function refusal(call: Promise<unknown>): Promise<NovaCronApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NovaCronApiError);
  return error as NovaCronApiError;
}

async function waitReady(vm: string, times: number): Promise<void> {
  await waitFor(
    `${vm} READY x${times}`,
    async () =>
      ((await client.vms.consoleOutput(vm)).match(/NOVACRON-GUEST-READY/g)?.length ?? 0) >= times
        ? true
        : undefined,
    120_000,
    250,
  );
}

const memTotalKiB = "grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2";

describe('resize and hotplug of a running tiny guest', () => {
  it('adds a vCPU, memory, a disk and a NIC live, grows the disk, keeps them over a restart, unplugs them', async () => {
    const started = Date.now();
    const vm = 'hp';
    await settle(
      client.vms.create({
        name: vm,
        image: 'tiny',
        cpus: 1,
        memoryMiB: 256,
        // New memory blocks come online by themselves.
        kernelArgs: 'memhp_default_state=online',
        start: false,
      }),
    );
    // Headroom is set while stopped, and becomes the QEMU topology at the start.
    await settle(client.vms.resize(vm, { maxCpus: 2, maxMemoryMiB: 512 }));
    await settle(client.vms.action(vm, { action: 'start' }));
    await waitReady(vm, 1);
    expect(await guestValue(vm, 'PRESENT', 'cat /sys/devices/system/cpu/present')).toBe('0');
    const memBefore = Number(await guestValue(vm, 'MEMKIB', memTotalKiB));

    // Live: one more vCPU (device_add of a CPU) and 128 MiB (a pc-dimm).
    const resized = await settle(
      client.vms.resize(vm, { cpus: 2, memoryMiB: 384 }),
      'live +1 vCPU +128 MiB',
    );
    expect(resized.result).toMatchObject({ live: true, cpus: 2, memoryMiB: 384 });
    expect(
      await guestUntil(vm, 'PRESENT', 'cat /sys/devices/system/cpu/present', (v) => v === '0-1'),
    ).toBe('0-1');
    // The guest brings the new CPU online when told to.
    expect(
      await guestValue(
        vm,
        'ONLINE',
        'echo 1 > /sys/devices/system/cpu/cpu1/online; cat /sys/devices/system/cpu/online',
      ),
    ).toBe('0-1');
    const memAfter = Number(
      await guestUntil(vm, 'MEMKIB', memTotalKiB, (v) => Number(v) > memBefore + 100 * 1024),
    );
    console.info(`hotplug: MemTotal ${memBefore} -> ${memAfter} KiB after a 128 MiB DIMM`);

    // A data disk appears as a new virtio block device; the boot disk grows live.
    await settle(client.vms.addDisk(vm, { sizeGiB: 1 }), 'disk add');
    expect(
      await guestUntil(vm, 'BLOCK', 'ls /sys/block | tr "\\n" " "', (v) => v.includes('vdb')),
    ).toContain('vdb');
    await settle(client.vms.resize(vm, { diskGiB: 2 }), 'disk grow');
    expect(await guestUntil(vm, 'SECTORS', 'cat /sys/block/vda/size', (v) => v === '4194304')).toBe(
      '4194304',
    );
    // A NIC on the host's VM network: eth1 in the guest.
    await settle(client.vms.addNic(vm), 'NIC add');
    expect(
      await guestUntil(vm, 'NETS', 'ls /sys/class/net | tr "\\n" " "', (v) => v.includes('eth1')),
    ).toContain('eth1');

    // Refusals: nothing changes.
    const shrink = await refusal(client.vms.resize(vm, { diskGiB: 1 }));
    expect(shrink).toMatchObject({ status: 409, code: 'DISK_SHRINK_REFUSED' });
    const beyond = await refusal(client.vms.resize(vm, { cpus: 3 }));
    expect(beyond).toMatchObject({ status: 409, code: 'HOTPLUG_NOT_SUPPORTED' });
    expect(await client.vms.hardware(vm)).toMatchObject({
      cpus: 2,
      memoryMiB: 384,
      diskGiB: 2,
      hotCpus: 1,
      dimmsMiB: [128],
      disks: [{ name: 'disk1', sizeGiB: 1 }],
      nics: [{ name: 'net1' }],
    });

    // A restart builds the same machine: the added CPU, DIMM, disk and NIC are there at boot.
    await settle(client.vms.action(vm, { action: 'stop', force: true }));
    await settle(client.vms.action(vm, { action: 'start' }));
    await waitReady(vm, 2);
    expect(await guestValue(vm, 'PRESENT', 'cat /sys/devices/system/cpu/present')).toBe('0-1');
    expect(await guestValue(vm, 'BLOCK', 'ls /sys/block | tr "\\n" " "')).toContain('vdb');
    expect(await guestValue(vm, 'NETS', 'ls /sys/class/net | tr "\\n" " "')).toContain('eth1');
    expect(Number(await guestValue(vm, 'MEMKIB', memTotalKiB))).toBeGreaterThan(
      memBefore + 100 * 1024,
    );

    // Unplug: the guest releases the devices (device_del, DEVICE_DELETED).
    await settle(client.vms.removeDisk(vm, 'disk1'), 'disk remove');
    await settle(client.vms.removeNic(vm, 'net1'), 'NIC remove');
    expect(
      await guestUntil(vm, 'BLOCK', 'ls /sys/block | tr "\\n" " "', (v) => !v.includes('vdb')),
    ).not.toContain('vdb');
    expect(await guestValue(vm, 'NETS', 'ls /sys/class/net | tr "\\n" " "')).not.toContain('eth1');
    expect(await client.vms.hardware(vm)).toMatchObject({ disks: [], nics: [] });
    console.info(`hotplug: ${timings.join('; ')}; whole scenario ${Date.now() - started} ms`);
  }, 600_000);
});
