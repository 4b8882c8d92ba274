import type { Host, Operation, SchedulerExplanation, Vm } from '@novacron/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing.js';

// Placement through the API over fake agents: the store's version check keeps racing creates
// from overcommitting a host, and refusals carry the scheduler's explanation.
let server: TestServer;

async function addHost(name: string, labels: Record<string, string> = {}) {
  await server.store.hosts.upsert({
    name,
    agentUrl: 'https://127.0.0.1:1',
    cpus: 2,
    memoryMiB: 4096,
    accelerator: 'tcg',
    acceleratorReason: 'no /dev/kvm',
    qemuVersion: '7.2.0',
    labels,
  });
}

function create(body: Record<string, unknown>) {
  return server.app.inject({
    method: 'POST',
    url: '/api/v1/vms',
    headers: server.auth,
    payload: { image: 'tiny', ...body },
  });
}

async function vmsByHost(): Promise<Map<string, Vm[]>> {
  const page = await server.store.vms.list({ limit: 1000 });
  const byHost = new Map<string, Vm[]>();
  for (const vm of page.items)
    byHost.set(vm.host ?? '', [...(byHost.get(vm.host ?? '') ?? []), vm]);
  return byHost;
}

beforeEach(async () => {
  server = await startTestServer();
  await addHost('h2', { zone: 'b' });
  await addHost('h3', { zone: 'b' });
  await server.store.hosts.patch((await server.store.hosts.get('h1'))!.id, {
    labels: { zone: 'a' },
  });
});

afterEach(async () => {
  await server.close();
});

describe('placement through the API', () => {
  it('never overcommits a host under many concurrent creates', async () => {
    // 3 hosts x 4096 MiB hold 24 VMs of 512 MiB; 36 race for them.
    const replies = await Promise.all(
      Array.from({ length: 36 }, (_, i) => create({ name: `vm-${i}`, memoryMiB: 512 })),
    );
    const statuses = replies.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 202)).toHaveLength(24);
    expect(statuses.filter((s) => s === 422)).toHaveLength(12);
    const refused = replies
      .find((r) => r.statusCode === 422)
      ?.json<{
        error: { code: string; details: { explanation: SchedulerExplanation } };
      }>();
    expect(refused?.error.code).toBe('NO_HOST_FITS');
    expect(refused?.error.details.explanation.filters[0]?.filter).toBe('capacity');
    for (const [host, vms] of await vmsByHost()) {
      expect(
        vms.reduce((sum, vm) => sum + vm.memoryMiB, 0),
        host,
      ).toBeLessThanOrEqual(4096);
    }
  });

  it('places a hard anti-affinity group on distinct hosts and refuses a fourth with the reasons', async () => {
    const placement = { group: 'web', antiAffinity: 'hard' };
    for (const name of ['web-1', 'web-2', 'web-3']) {
      expect((await create({ name, placement })).statusCode).toBe(202);
    }
    const hosts = [...(await vmsByHost()).keys()].sort();
    expect(hosts).toEqual(['h1', 'h2', 'h3']);
    const fourth = await create({ name: 'web-4', placement });
    expect(fourth.statusCode).toBe(422);
    const body = fourth.json<{
      error: { code: string; message: string; details: { explanation: SchedulerExplanation } };
    }>();
    expect(body.error.code).toBe('NO_HOST_FITS');
    expect(body.error.message).toMatch(/hard anti-affinity: 1 VM of group web already here/);
    expect(body.error.details.explanation.filters).toEqual([
      {
        filter: 'affinity',
        removed: ['h1', 'h2', 'h3'].map((host) => ({
          host,
          reason: 'hard anti-affinity: 1 VM of group web already here',
        })),
      },
    ]);
  });

  it('records the reason on the create operation and keeps the rules on the VM', async () => {
    const reply = await create({
      name: 'z',
      placement: { selector: { zone: 'b' }, policy: 'binpack' },
    });
    const operation = reply.json<Operation>();
    const ended = await server.operations.wait(operation.id, 10_000);
    expect(ended?.metadata).toMatchObject({
      placement: expect.stringMatching(/^binpack: h[23] scored/) as string,
    });
    const vm = await server.vms.get('z');
    expect(['h2', 'h3']).toContain(vm.host);
    expect(vm.placement).toEqual({ selector: { zone: 'b' }, policy: 'binpack' });
  });

  it('keeps new VMs off a cordoned host and lets them back after uncordon', async () => {
    const cordon = await server.app.inject({
      method: 'POST',
      url: '/api/v1/hosts/h1/cordon',
      headers: server.auth,
    });
    expect(cordon.json<Host>().cordoned).toBe(true);
    const explained = await server.app.inject({
      method: 'POST',
      url: '/api/v1/scheduler/explain',
      headers: server.auth,
      payload: { memoryMiB: 512, placement: { selector: { zone: 'a' } } },
    });
    expect(explained.statusCode).toBe(200);
    const explanation = explained.json<SchedulerExplanation>();
    expect(explanation.chosen).toBeNull();
    expect(explanation.filters).toEqual([
      { filter: 'state', removed: [{ host: 'h1', reason: 'host is cordoned' }] },
      {
        filter: 'labels',
        removed: [
          { host: 'h2', reason: 'selector zone=a: host has zone=b' },
          { host: 'h3', reason: 'selector zone=a: host has zone=b' },
        ],
      },
    ]);
    for (const name of ['c1', 'c2', 'c3', 'c4']) {
      expect((await create({ name })).statusCode).toBe(202);
    }
    expect((await vmsByHost()).has('h1')).toBe(false);
    const uncordon = await server.app.inject({
      method: 'POST',
      url: '/api/v1/hosts/h1/uncordon',
      headers: server.auth,
    });
    expect(uncordon.json<Host>()).toMatchObject({ cordoned: false, maintenance: false });
    expect((await create({ name: 'c5', placement: { selector: { zone: 'a' } } })).statusCode).toBe(
      202,
    );
    expect((await server.vms.get('c5')).host).toBe('h1');
  });

  it('answers contradictory constraints and impossible sizes with NO_HOST_FITS, never a 5xx', async () => {
    expect(
      (await create({ name: 'a1', placement: { group: 'db', antiAffinity: 'hard' } })).statusCode,
    ).toBe(202);
    const cases = [
      {
        placement: { group: 'db', affinity: 'hard' },
        match: /contradictory constraints: group db/,
      },
      { placement: { selector: { zone: 'mars' } }, match: /selector zone=mars: host has zone=/ },
      { memoryMiB: 65536, match: /65536 MiB asked, \d+ of 4096 MiB free/ },
    ];
    for (const [i, { match, ...body }] of cases.entries()) {
      const reply = await create({ name: `bad-${i}`, ...body });
      expect(reply.statusCode).toBe(422);
      expect(reply.json<{ error: { code: string; message: string } }>().error).toMatchObject({
        code: 'NO_HOST_FITS',
        message: expect.stringMatching(match) as string,
      });
    }
    const ruleless = await create({ name: 'bad-x', placement: { antiAffinity: 'hard' } });
    expect(ruleless.statusCode).toBe(400);
  });
});
