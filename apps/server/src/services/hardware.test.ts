import type { Operation, VmHardwareView } from '@novacron/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent, startTestServer, type TestServer } from '../testing.js';
import { HardwareService, refuseLocalDataDisks } from './hardware.js';

// Resize and hotplug through the API over a fake agent (the layer below): what is refused before
// the host is asked, what the store records after, and what the host is sent.
let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  await server.close();
});

async function call(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) {
  return server.app.inject({
    method,
    url,
    headers: server.auth,
    ...(payload === undefined ? {} : { payload }),
  });
}

async function settle(response: { json<T>(): T; statusCode: number }): Promise<Operation> {
  expect(response.statusCode).toBe(202);
  const operation = response.json<Operation>();
  return (
    await call('GET', `/api/v1/operations/${operation.id}/wait?timeout=10`)
  ).json<Operation>();
}

async function createVm(name: string, start: boolean, extra: object = {}): Promise<string> {
  const done = await settle(
    await call('POST', '/api/v1/vms', { name, image: 'tiny', start, memoryMiB: 256, ...extra }),
  );
  expect(done.status).toBe('succeeded');
  return done.target.id;
}

async function hardware(id: string): Promise<VmHardwareView> {
  return (await call('GET', `/api/v1/vms/${id}/hardware`)).json<VmHardwareView>();
}

describe('resize', () => {
  it('resizes a stopped VM, headroom included, and records what the host applied', async () => {
    const id = await createVm('off', false);
    const done = await settle(
      await call('POST', `/api/v1/vms/${id}/resize`, {
        cpus: 2,
        memoryMiB: 512,
        diskGiB: 3,
        maxCpus: 2,
        maxMemoryMiB: 1024,
      }),
    );
    expect(done).toMatchObject({ kind: 'vm.resize', status: 'succeeded', result: { live: false } });
    expect(await hardware(id)).toMatchObject({
      cpus: 2,
      maxCpus: 2,
      memoryMiB: 512,
      maxMemoryMiB: 1024,
      diskGiB: 3,
      hotCpus: 0,
    });
    expect(server.agent.calls).toContain('hardware off 2/512/3 ');
    // The host builds the VM from the same spec at its next start.
    expect((await server.vms.agentSpec(await server.vms.get(id))).hardware).toMatchObject({
      maxMemoryMiB: 1024,
    });
  });

  it('grows a running VM live within its headroom, and keeps the added CPUs and DIMMs', async () => {
    const id = await createVm('live', false);
    await settle(
      await call('POST', `/api/v1/vms/${id}/resize`, { maxCpus: 2, maxMemoryMiB: 1024 }),
    );
    await settle(await call('POST', `/api/v1/vms/${id}/actions`, { action: 'start' }));
    const done = await settle(
      await call('POST', `/api/v1/vms/${id}/resize`, { cpus: 2, memoryMiB: 512 }),
    );
    expect(done).toMatchObject({ status: 'succeeded', result: { live: true, cpus: 2 } });
    expect(await hardware(id)).toMatchObject({
      cpus: 2,
      memoryMiB: 512,
      hotCpus: 1,
      dimmsMiB: [256],
    });
    const spec = await server.vms.agentSpec(await server.vms.get(id));
    expect(spec).toMatchObject({
      cpus: 2,
      memoryMiB: 512,
      hardware: { hotCpus: 1, dimmsMiB: [256] },
    });
  });

  it('refuses, before asking the host, what cannot be done: nothing changes', async () => {
    const id = await createVm('refused', true);
    const before = [...server.agent.calls];
    const refusals: [object, number, string][] = [
      [{ diskGiB: 0 }, 400, 'VALIDATION_FAILED'],
      [{ cpus: 2 }, 409, 'HOTPLUG_NOT_SUPPORTED'],
      [{ memoryMiB: 512 }, 409, 'HOTPLUG_NOT_SUPPORTED'],
      [{ maxCpus: 4 }, 409, 'HOTPLUG_NOT_SUPPORTED'],
      [{ memoryMiB: 128 }, 409, 'HOTPLUG_NOT_SUPPORTED'],
      [{ unknown: 1 }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of refusals) {
      const response = await call('POST', `/api/v1/vms/${id}/resize`, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(status);
      expect(response.json()).toMatchObject({ error: { code } });
    }
    expect(server.agent.calls).toEqual(before);
    expect(await hardware(id)).toMatchObject({ cpus: 1, memoryMiB: 256, diskGiB: 1 });
  });

  it('refuses to shrink a disk with DISK_SHRINK_REFUSED', async () => {
    const id = await createVm('shrink', false, { diskGiB: 4 });
    const response = await call('POST', `/api/v1/vms/${id}/resize`, { diskGiB: 2 });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({
      error: { code: 'DISK_SHRINK_REFUSED', details: { sizeGiB: 4, requestedGiB: 2 } },
    });
    expect((await hardware(id)).diskGiB).toBe(4);
  });

  it('refuses growth beyond the project quota or the host with a 4xx', async () => {
    await call('POST', '/api/v1/projects', { name: 'tight', maxDiskGiB: 3, maxMemoryMiB: 100000 });
    await server.store.images.create({
      name: 'tiny',
      project: 'tight',
      kind: 'kernel',
      status: 'ready',
      builtin: false,
      sizeBytes: 1,
      defaultKernelArgs: '',
      sha256: 'x',
    });
    const id = await createVm('quota', false, { project: 'tight' });
    const disk = await call('POST', `/api/v1/vms/${id}/disks`, { sizeGiB: 3 });
    expect(disk.statusCode).toBe(403);
    expect(disk.json()).toMatchObject({
      error: { code: 'QUOTA_EXCEEDED', details: { quota: 'diskGiB' } },
    });
    // The host has 4096 MiB.
    const host = await call('POST', `/api/v1/vms/${id}/resize`, { memoryMiB: 8192 });
    expect(host.statusCode).toBe(422);
    expect(host.json()).toMatchObject({ error: { code: 'NO_HOST_FITS' } });
    expect(await hardware(id)).toMatchObject({ memoryMiB: 256, disks: [] });
  });
});

describe('headroom at create', () => {
  it('records maxCpus and maxMemoryMiB given at create, and refuses them below the size', async () => {
    const id = await createVm('roomy', false, { cpus: 1, maxCpus: 2, maxMemoryMiB: 1024 });
    expect(await hardware(id)).toMatchObject({ cpus: 1, maxCpus: 2, maxMemoryMiB: 1024 });
    expect((await server.vms.agentSpec(await server.vms.get(id))).hardware).toMatchObject({
      maxCpus: 2,
      maxMemoryMiB: 1024,
    });
    const below = await call('POST', '/api/v1/vms', {
      name: 'cramped',
      image: 'tiny',
      cpus: 2,
      maxCpus: 1,
    });
    expect(below.statusCode).toBe(400);
    expect(below.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    expect((await call('GET', '/api/v1/vms/cramped')).statusCode).toBe(404);
  });
});

describe('disks and NICs', () => {
  it('adds data disks and NICs on free slots, counts them in the quota, and removes them', async () => {
    const id = await createVm('devices', true);
    expect(
      await settle(await call('POST', `/api/v1/vms/${id}/disks`, { sizeGiB: 2 })),
    ).toMatchObject({
      kind: 'vm.device.add',
      status: 'succeeded',
      result: { live: true, disks: ['disk1'] },
    });
    await settle(await call('POST', `/api/v1/vms/${id}/nics`, {}));
    await settle(await call('POST', `/api/v1/vms/${id}/disks`, { sizeGiB: 1, name: 'disk5' }));
    const view = await hardware(id);
    expect(view.disks).toEqual([
      { name: 'disk1', sizeGiB: 2, slot: 0 },
      { name: 'disk5', sizeGiB: 1, slot: 2 },
    ]);
    expect(view.nics).toMatchObject([{ name: 'net1', slot: 1 }]);
    expect(view.nics[0]?.mac).toMatch(/^52:54:00:/);
    const usage = (await call('GET', '/api/v1/projects/default')).json<{
      usage: { diskGiB: number };
    }>();
    expect(usage.usage.diskGiB).toBe(4);

    const taken = await call('POST', `/api/v1/vms/${id}/disks`, { sizeGiB: 1, name: 'disk1' });
    expect(taken.statusCode).toBe(400);
    const wrongKind = await call('DELETE', `/api/v1/vms/${id}/nics/disk1`);
    expect(wrongKind.statusCode).toBe(400);
    const missing = await call('DELETE', `/api/v1/vms/${id}/disks/disk7`);
    expect(missing.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });

    expect(await settle(await call('DELETE', `/api/v1/vms/${id}/disks/disk1`))).toMatchObject({
      kind: 'vm.device.remove',
      status: 'succeeded',
    });
    await settle(await call('DELETE', `/api/v1/vms/${id}/nics/net1`));
    expect(await hardware(id)).toMatchObject({ disks: [{ name: 'disk5' }], nics: [] });
  });

  it('refuses a fifth device: four hotplug slots', async () => {
    const id = await createVm('full', false);
    for (let n = 0; n < 4; n += 1) {
      await settle(await call('POST', `/api/v1/vms/${id}/disks`, { sizeGiB: 1 }));
    }
    const fifth = await call('POST', `/api/v1/vms/${id}/nics`, {});
    expect(fifth.statusCode).toBe(409);
    expect(fifth.json()).toMatchObject({ error: { code: 'HOTPLUG_NOT_SUPPORTED' } });
  });
});

describe('after a server restart', () => {
  it('resumes a resize the host was asked for: the wanted spec is sent again and recorded', async () => {
    const id = await createVm('again', false);
    const held = server.agent.hold();
    const accepted = (
      await call('POST', `/api/v1/vms/${id}/resize`, { cpus: 2, diskGiB: 2 })
    ).json<Operation>();
    await held;
    expect(await server.store.operations.get(accepted.id)).toMatchObject({ phase: 'applying' });

    const fresh = new FakeAgent();
    server = await server.restart(fresh);
    const hardware = new HardwareService(server.store, server.hosts, server.operations, server.vms);
    expect(await server.operations.recover(hardware.recoveryPlans())).toEqual({
      resumed: 1,
      rolledBack: 0,
    });
    expect(await server.operations.wait(accepted.id, 5000)).toMatchObject({ status: 'succeeded' });
    expect(fresh.calls).toEqual(['hardware again 2/256/2 ']);
    expect(await server.vms.get(id)).toMatchObject({ cpus: 2, diskGiB: 2 });
  });
});

describe('migration', () => {
  it('refuses to move a VM with data disks in the local pool, not one on the shared pool', async () => {
    const local = await createVm('local-data', false);
    await settle(await call('POST', `/api/v1/vms/${local}/disks`, { sizeGiB: 1 }));
    await expect(refuseLocalDataDisks(server.store, await server.vms.get(local))).rejects.toThrow(
      /data disks in the local pool \(disk1\)/,
    );
    const shared = await createVm('shared-data', false, { pool: 'shared' });
    await settle(await call('POST', `/api/v1/vms/${shared}/disks`, { sizeGiB: 1 }));
    await expect(
      refuseLocalDataDisks(server.store, await server.vms.get(shared)),
    ).resolves.toBeUndefined();
  });
});
