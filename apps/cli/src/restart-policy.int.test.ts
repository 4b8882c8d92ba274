import type { Vm } from '@novacron/api';
import type { NovaCronClient } from '@novacron/client';
import { pidsMatching, waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedTestbed, type EmbeddedTestbed } from './testing.js';

// Reconciliation with real QEMU: kill -9 the QEMU of a VM whose restart policy is `always` and
// it runs again; a VM with policy `never` stays down with the reason.

let testbed: EmbeddedTestbed | undefined;
let client: NovaCronClient;

beforeAll(async () => {
  testbed = await startEmbeddedTestbed();
  client = testbed.client;
}, 180_000);

afterAll(async () => {
  await testbed?.close();
}, 60_000);

async function createRunning(name: string, restartPolicy: Vm['restartPolicy']): Promise<Vm> {
  const create = await client.vms.create({ name, image: 'tiny', memoryMiB: 256, restartPolicy });
  expect(await client.operations.wait(create.id, 120)).toMatchObject({ status: 'succeeded' });
  return client.vms.get(name);
}

/** Waits until the guest has printed its READY marker `times` times (console.log appends). */
async function readyMarkers(name: string, times: number): Promise<void> {
  await waitFor(
    `${name} to print its READY marker ${times} time(s)`,
    async () => {
      const output = await client.vms.consoleOutput(name);
      return (output.match(/NOVACRON-GUEST-READY/g) ?? []).length >= times ? true : undefined;
    },
    90_000,
    500,
  );
}

async function qemuPid(vm: Vm): Promise<number> {
  const [pid] = await pidsMatching(vm.id);
  if (pid === undefined) throw new Error(`no QEMU process for VM ${vm.name}`);
  return pid;
}

describe('restart policy with real QEMU', () => {
  it('restarts a killed VM with policy always, and leaves one with policy never down', async () => {
    const always = await createRunning('phoenix', 'always');
    const never = await createRunning('mortal', 'never');
    expect(always).toMatchObject({ state: 'running', restartPolicy: 'always', restarts: 0 });
    const first = await qemuPid(always);
    // Both guests fully up (their QEMUs long attached to) before either is killed.
    await Promise.all([readyMarkers('phoenix', 1), readyMarkers('mortal', 1)]);

    process.kill(first, 'SIGKILL');
    process.kill(await qemuPid(never), 'SIGKILL');

    const back = await waitFor(
      'the killed VM with policy always to run again',
      async () => {
        const vm = await client.vms.get('phoenix');
        return vm.state === 'running' && vm.restarts === 1 ? vm : undefined;
      },
      90_000,
      250,
    );
    expect(back.lastRestartAt).not.toBeNull();
    const second = await qemuPid(back);
    expect(second).not.toBe(first);
    const restart = await client.operations.list({ target: 'phoenix', kind: 'vm.start' });
    expect(restart.items.map((op) => op.status)).toEqual(['succeeded']);
    // The guest boots again: its console shows a second READY marker.
    await readyMarkers('phoenix', 2);

    // Seen down by the host's heartbeats, and left down.
    const down = await waitFor(
      'the killed VM with policy never to be seen down',
      async () => {
        const vm = await client.vms.get('mortal');
        return vm.state === 'error' ? vm : undefined;
      },
      30_000,
      250,
    );
    expect(down).toMatchObject({ restarts: 0, desiredState: 'running', lastRestartAt: null });
    expect(down.stateReason).toMatch(/SIGKILL/);
    const starts = await client.operations.list({ target: 'mortal', kind: 'vm.start' });
    expect(starts.items).toEqual([]);
    expect(await pidsMatching(never.id)).toEqual([]);
  }, 240_000);
});
