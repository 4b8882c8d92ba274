import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Operation, Vm } from '@novacron/api';
import type { NovaCronClient } from '@novacron/client';
import { pidsMatching, waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedTestbed, type EmbeddedTestbed } from './testing.js';

// Every lifecycle action through the REST API, judged by what the guest prints on its serial
// console: the tiny guest prints `HEARTBEAT <n> <uptime>` every second.

let testbed: EmbeddedTestbed | undefined;
let client: NovaCronClient;

beforeAll(async () => {
  testbed = await startEmbeddedTestbed();
  client = testbed.client;
}, 180_000);

afterAll(async () => {
  await testbed?.close();
}, 60_000);

interface Heartbeat {
  n: number;
  uptime: number;
}

/** The heartbeats printed since the last READY marker (the current boot). */
function heartbeats(output: string): Heartbeat[] {
  const boot = output.slice(output.lastIndexOf('NOVACRON-GUEST-READY'));
  return [...boot.matchAll(/^HEARTBEAT (\d+) (\d+\.\d+)\s*$/gm)].map((m) => ({
    n: Number(m[1]),
    uptime: Number(m[2]),
  }));
}

function readyCount(output: string): number {
  return (output.match(/NOVACRON-GUEST-READY/g) ?? []).length;
}

async function heartbeatsAtLeast(name: string, count: number): Promise<Heartbeat[]> {
  return waitFor(
    `${name} to print ${count} heartbeats this boot`,
    async () => {
      const beats = heartbeats(await client.vms.consoleOutput(name));
      return beats.length >= count ? beats : undefined;
    },
    120_000,
    250,
  );
}

async function act(name: string, action: Parameters<NovaCronClient['vms']['action']>[1]) {
  const op = await client.vms.action(name, action);
  expect(await client.operations.wait(op.id, 120)).toMatchObject<Partial<Operation>>({
    status: 'succeeded',
  });
  return client.vms.get(name);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the VM lifecycle with real QEMU', () => {
  let vm: Vm;

  it('pause stops the heartbeats; resume continues them with the same uptime', async () => {
    const create = await client.vms.create({ name: 'life', image: 'tiny', memoryMiB: 128 });
    expect(await client.operations.wait(create.id, 120)).toMatchObject({ status: 'succeeded' });
    vm = await client.vms.get('life');
    const before = await heartbeatsAtLeast('life', 3);

    expect(await act('life', { action: 'pause' })).toMatchObject({ state: 'paused' });
    // A line already on its way may still land; after that the console stays quiet.
    await sleep(1500);
    const pausedAt = heartbeats(await client.vms.consoleOutput('life')).length;
    await sleep(3000);
    expect(heartbeats(await client.vms.consoleOutput('life'))).toHaveLength(pausedAt);
    expect(pausedAt).toBeGreaterThanOrEqual(before.length);

    expect(await act('life', { action: 'resume' })).toMatchObject({ state: 'running' });
    const after = await heartbeatsAtLeast('life', pausedAt + 2);
    const last = after[pausedAt - 1]!;
    const next = after[pausedAt]!;
    // The counter and the guest's uptime go on from where they were: no reboot, and the
    // guest's clock did not run during the 4.5 s pause (it stood still with the vCPUs).
    expect(next.n).toBe(last.n + 1);
    expect(next.uptime).toBeGreaterThan(last.uptime);
    expect(next.uptime - last.uptime).toBeLessThan(4);
    expect(readyCount(await client.vms.consoleOutput('life'))).toBe(1);
  }, 300_000);

  it('reboot restarts the guest: a second READY marker and the counter starts over', async () => {
    const pid = (await pidsMatching(vm.id))[0];
    expect(await act('life', { action: 'reboot' })).toMatchObject({ state: 'running' });
    await waitFor(
      'a second READY marker',
      async () => (readyCount(await client.vms.consoleOutput('life')) >= 2 ? true : undefined),
      120_000,
      250,
    );
    const beats = await heartbeatsAtLeast('life', 2);
    expect(beats[0]?.n).toBe(1);
    // A guest reboot, not a new QEMU.
    expect(await pidsMatching(vm.id)).toEqual([pid]);
  }, 300_000);

  it('graceful stop powers the guest off and QEMU exits', async () => {
    expect(await act('life', { action: 'stop', timeoutSeconds: 60 })).toMatchObject({
      state: 'stopped',
    });
    expect(await client.vms.consoleOutput('life')).toContain('NOVACRON-GUEST-POWEROFF');
    expect(await pidsMatching(vm.id)).toEqual([]);
  }, 180_000);

  it('starts again, force stop kills QEMU at once', async () => {
    expect(await act('life', { action: 'start' })).toMatchObject({ state: 'running' });
    expect(await pidsMatching(vm.id)).toHaveLength(1);
    await waitFor(
      'a third READY marker',
      async () => (readyCount(await client.vms.consoleOutput('life')) >= 3 ? true : undefined),
      120_000,
      250,
    );
    const powerOffs = (await client.vms.consoleOutput('life')).split('NOVACRON-GUEST-POWEROFF');
    expect(await act('life', { action: 'stop', force: true })).toMatchObject({
      state: 'stopped',
    });
    expect(await pidsMatching(vm.id)).toEqual([]);
    // The guest had no say: it did not print another power-off line.
    expect((await client.vms.consoleOutput('life')).split('NOVACRON-GUEST-POWEROFF')).toHaveLength(
      powerOffs.length,
    );
  }, 240_000);

  it('delete removes the VM and its folder with its disks', async () => {
    const folder = join(testbed!.dataDir, 'agent', 'vms', vm.id);
    expect(await exists(folder)).toBe(true);
    const remove = await client.vms.delete('life');
    expect(await client.operations.wait(remove.id, 60)).toMatchObject({ status: 'succeeded' });
    await expect(client.vms.get('life')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    expect(await exists(folder)).toBe(false);
  }, 120_000);
});
