import type {
  AgentCloneRequest,
  AgentSnapshot,
  AgentSnapshotCreate,
  Operation,
  Vm,
  VmSnapshotList,
} from '@novacron/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentSnapshotPort } from '../agents/agent-client.js';
import { FakeAgent, startTestServer, type TestServer } from '../testing.js';

// Snapshots, clones and templates through the API over a fake agent (the layer below): what is
// refused before the host is asked, what the store records, and what the host is asked.

/** A host whose disks keep snapshots by name, per VM. */
class SnapshotAgent extends FakeAgent {
  readonly disks = new Map<string, Map<string, AgentSnapshot>>();
  readonly snapshotCalls: string[] = [];

  readonly snapshots: AgentSnapshotPort = {
    list: (id) => Promise.resolve([...(this.disks.get(id)?.values() ?? [])]),
    create: (id, request: AgentSnapshotCreate) => {
      this.snapshotCalls.push(`create ${id} ${request.name} ${request.memory}`);
      const state = this.vms.get(id)?.state ?? 'stopped';
      const snapshot = {
        name: request.name,
        vmStateBytes: request.memory ? 1000 : 0,
        vmState: state,
      };
      const disk = this.disks.get(id) ?? new Map<string, AgentSnapshot>();
      disk.set(request.name, snapshot);
      this.disks.set(id, disk);
      return Promise.resolve(snapshot);
    },
    revert: (id, name) => {
      this.snapshotCalls.push(`revert ${id} ${name}`);
      const snapshot = this.disks.get(id)?.get(name);
      if (snapshot === undefined) throw new Error('no such snapshot on the fake disk');
      return Promise.resolve(snapshot);
    },
    delete: (id, name) => {
      this.snapshotCalls.push(`delete ${id} ${name}`);
      this.disks.get(id)?.delete(name);
      return Promise.resolve();
    },
    clone: (sourceId, request: AgentCloneRequest) => {
      this.snapshotCalls.push(
        `clone ${sourceId} -> ${request.spec.name} linked=${request.linked} snapshot=${request.snapshot ?? '-'}`,
      );
      return Promise.resolve({ method: request.linked ? 'linked' : 'copy', allocatedBytes: 0 });
    },
  };
}

let server: TestServer;
let agent: SnapshotAgent;

beforeEach(async () => {
  agent = new SnapshotAgent();
  server = await startTestServer({ agent });
});

afterEach(async () => {
  await server.close();
});

async function call(method: 'GET' | 'POST' | 'DELETE' | 'PATCH', url: string, payload?: object) {
  return server.app.inject({
    method,
    url,
    headers: server.auth,
    ...(payload === undefined ? {} : { payload }),
  });
}

async function settle(response: { json<T>(): T; statusCode: number }): Promise<Operation> {
  expect(response.statusCode, JSON.stringify(response.json())).toBe(202);
  const operation = response.json<Operation>();
  return (
    await call('GET', `/api/v1/operations/${operation.id}/wait?timeout=10`)
  ).json<Operation>();
}

async function createVm(name: string, start: boolean): Promise<string> {
  const done = await settle(await call('POST', '/api/v1/vms', { name, image: 'tiny', start }));
  expect(done.status).toBe('succeeded');
  return done.target.id;
}

async function refused(
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH',
  url: string,
  payload?: object,
): Promise<{ status: number; code: string }> {
  const response = await call(method, url, payload);
  return {
    status: response.statusCode,
    code: response.json<{ error: { code: string } }>().error.code,
  };
}

async function names(id: string): Promise<string[]> {
  const list = (await call('GET', `/api/v1/vms/${id}/snapshots`)).json<VmSnapshotList>();
  return list.items.map((s) => s.name);
}

describe('snapshots', () => {
  it('takes, lists, reverts and deletes snapshots as operations on the VM’s host', async () => {
    const id = await createVm('web', true);
    const taken = await settle(
      await call('POST', `/api/v1/vms/${id}/snapshots`, { name: 'warm', memory: true }),
    );
    expect(taken).toMatchObject({
      kind: 'vm.snapshot',
      status: 'succeeded',
      result: { snapshot: 'warm', memory: true, vmStateBytes: 1000 },
    });
    await settle(await call('POST', `/api/v1/vms/web/snapshots`, { name: 'cold' }));
    const list = (await call('GET', `/api/v1/vms/web/snapshots`)).json<VmSnapshotList>();
    expect(list.items).toMatchObject([
      { name: 'warm', memory: true, vmState: 'running', vmStateBytes: 1000 },
      { name: 'cold', memory: false, vmStateBytes: 0 },
    ]);
    const reverted = await settle(await call('POST', `/api/v1/vms/web/snapshots/warm/revert`));
    expect(reverted).toMatchObject({ kind: 'vm.snapshot.revert', status: 'succeeded' });
    const deleted = await settle(await call('DELETE', `/api/v1/vms/web/snapshots/cold`));
    expect(deleted).toMatchObject({ kind: 'vm.snapshot.delete', status: 'succeeded' });
    expect(await names(id)).toEqual(['warm']);
    expect(agent.snapshotCalls).toEqual([
      `create ${id} warm true`,
      `create ${id} cold false`,
      `revert ${id} warm`,
      `delete ${id} cold`,
    ]);
  });

  it('refuses bad input before the host is asked, and records nothing', async () => {
    const web = await createVm('web', true);
    const other = await createVm('other', false);
    await settle(await call('POST', `/api/v1/vms/${other}/snapshots`, { name: 'theirs' }));
    agent.snapshotCalls.length = 0;

    // Another VM's snapshot is not this VM's: 404, the same as a missing one.
    expect(await refused('POST', `/api/v1/vms/${web}/snapshots/theirs/revert`)).toEqual({
      status: 404,
      code: 'SNAPSHOT_NOT_FOUND',
    });
    expect(await refused('DELETE', `/api/v1/vms/${web}/snapshots/nope`)).toEqual({
      status: 404,
      code: 'SNAPSHOT_NOT_FOUND',
    });
    expect(
      await refused('POST', `/api/v1/vms/${web}/clone`, { name: 'c', snapshot: 'nope' }),
    ).toEqual({ status: 404, code: 'SNAPSHOT_NOT_FOUND' });
    for (const name of ['1', '12345', '-x', 'a.b', 'a b', '../x', 'x'.repeat(64), '']) {
      expect(await refused('POST', `/api/v1/vms/${web}/snapshots`, { name })).toEqual({
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
    expect(await refused('POST', `/api/v1/vms/${web}/snapshots/a..b/revert`)).toMatchObject({
      status: 400,
    });
    expect(await refused('POST', `/api/v1/vms/${other}/snapshots`, { name: 'theirs' })).toEqual({
      status: 409,
      code: 'SNAPSHOT_NAME_TAKEN',
    });
    expect(
      await refused('POST', `/api/v1/vms/${other}/snapshots`, { name: 'ram', memory: true }),
    ).toEqual({ status: 409, code: 'VM_INVALID_STATE' });
    expect(await refused('POST', `/api/v1/vms/nope/snapshots`, { name: 'x' })).toEqual({
      status: 404,
      code: 'VM_NOT_FOUND',
    });
    expect(agent.snapshotCalls).toEqual([]);
    expect(await names(web)).toEqual([]);
    expect(await names(other)).toEqual(['theirs']);
  });

  it('while a VM has snapshots its size and devices stay; a VM with data disks takes none', async () => {
    const id = await createVm('sized', false);
    await settle(await call('POST', `/api/v1/vms/${id}/snapshots`, { name: 's1' }));
    for (const [method, url, body] of [
      ['PATCH', `/api/v1/vms/${id}`, { memoryMiB: 512 }],
      ['POST', `/api/v1/vms/${id}/resize`, { cpus: 2 }],
      ['POST', `/api/v1/vms/${id}/disks`, { sizeGiB: 1 }],
    ] as const) {
      expect(await refused(method, url, body)).toEqual({ status: 409, code: 'VM_HAS_SNAPSHOTS' });
    }
    // Labels are not the machine.
    expect((await call('PATCH', `/api/v1/vms/${id}`, { labels: { a: 'b' } })).statusCode).toBe(200);
    await settle(await call('DELETE', `/api/v1/vms/${id}/snapshots/s1`));
    const added = await settle(await call('POST', `/api/v1/vms/${id}/disks`, { sizeGiB: 1 }));
    expect(added.status, JSON.stringify(added.error)).toBe('succeeded');
    expect(await refused('POST', `/api/v1/vms/${id}/snapshots`, { name: 's2' })).toEqual({
      status: 409,
      code: 'VM_INVALID_STATE',
    });
    expect(await names(id)).toEqual([]);
  });

  it('deleting a VM deletes its snapshots', async () => {
    const id = await createVm('gone', false);
    await settle(await call('POST', `/api/v1/vms/${id}/snapshots`, { name: 's1' }));
    await settle(await call('DELETE', `/api/v1/vms/${id}`));
    expect(await server.store.snapshots.list(id)).toEqual([]);
  });
});

describe('templates and clones', () => {
  it('a template cannot start, change size or take snapshots; its clones are linked', async () => {
    const running = await createVm('busy', true);
    expect(await refused('POST', `/api/v1/vms/${running}/template`)).toEqual({
      status: 409,
      code: 'VM_INVALID_STATE',
    });
    const id = await createVm('golden', false);
    await settle(await call('POST', `/api/v1/vms/${id}/snapshots`, { name: 's1' }));
    expect(await refused('POST', `/api/v1/vms/${id}/template`)).toEqual({
      status: 409,
      code: 'VM_HAS_SNAPSHOTS',
    });
    await settle(await call('DELETE', `/api/v1/vms/${id}/snapshots/s1`));
    const marked = await call('POST', `/api/v1/vms/${id}/template`);
    expect(marked.json<Vm>()).toMatchObject({ template: true, state: 'stopped' });
    // Idempotent.
    expect((await call('POST', `/api/v1/vms/golden/template`)).json<Vm>().template).toBe(true);

    expect(await refused('POST', `/api/v1/vms/${id}/actions`, { action: 'start' })).toEqual({
      status: 409,
      code: 'VM_IS_TEMPLATE',
    });
    expect(await refused('PATCH', `/api/v1/vms/${id}`, { cpus: 2 })).toEqual({
      status: 409,
      code: 'VM_IS_TEMPLATE',
    });
    expect(await refused('POST', `/api/v1/vms/${id}/resize`, { cpus: 2 })).toEqual({
      status: 409,
      code: 'VM_IS_TEMPLATE',
    });
    expect(await refused('POST', `/api/v1/vms/${id}/disks`, { sizeGiB: 1 })).toEqual({
      status: 409,
      code: 'VM_IS_TEMPLATE',
    });
    expect(await refused('POST', `/api/v1/vms/${id}/snapshots`, { name: 's2' })).toEqual({
      status: 409,
      code: 'VM_IS_TEMPLATE',
    });
    // Labels and description are not the machine: they may change.
    expect((await call('PATCH', `/api/v1/vms/${id}`, { description: 'base' })).statusCode).toBe(
      200,
    );

    const linked = await settle(await call('POST', `/api/v1/vms/${id}/clone`, { name: 'app-1' }));
    expect(linked).toMatchObject({
      kind: 'vm.clone',
      status: 'succeeded',
      target: { name: 'app-1' },
      result: { method: 'linked', source: id },
    });
    const full = await settle(
      await call('POST', `/api/v1/vms/golden/clone`, { name: 'app-2', full: true, start: false }),
    );
    expect(full.result).toMatchObject({ method: 'copy' });
    const app1 = (await call('GET', `/api/v1/vms/app-1`)).json<Vm>();
    const app2 = (await call('GET', `/api/v1/vms/app-2`)).json<Vm>();
    expect(app1).toMatchObject({ baseVm: id, template: false, state: 'running', host: 'h1' });
    expect(app2).toMatchObject({ baseVm: null, state: 'stopped' });
    expect(agent.calls).toContain('ensure app-1 running 1/256');

    expect(await refused('DELETE', `/api/v1/vms/${id}`)).toEqual({
      status: 409,
      code: 'TEMPLATE_IN_USE',
    });
    await settle(await call('DELETE', `/api/v1/vms/app-1?force=true`));
    expect((await call('DELETE', `/api/v1/vms/${id}`)).statusCode).toBe(202);
  });

  it('a clone counts against the quota; a refused one leaves nothing', async () => {
    await createVm('src', true);
    const project = await call('PATCH', '/api/v1/projects/default', { maxVms: 1 });
    expect(project.statusCode).toBe(200);
    expect(await refused('POST', `/api/v1/vms/src/clone`, { name: 'extra' })).toEqual({
      status: 403,
      code: 'QUOTA_EXCEEDED',
    });
    expect((await call('GET', `/api/v1/vms/extra`)).statusCode).toBe(404);
    expect(agent.snapshotCalls).toEqual([]);
  });
});
