import type { AgentCloneRequest, ErrorBody, Operation } from '@novacron/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentSnapshotPort } from './agents/agent-client.js';
import { FakeAgent, startTestServer, type TestServer } from './testing.js';

/** A host that can make a clone's disk (what the clone's spec said is kept). */
class CloneAgent extends FakeAgent {
  readonly cloneRequests: AgentCloneRequest[] = [];
  readonly snapshots: AgentSnapshotPort = {
    list: () => Promise.resolve([]),
    create: () => Promise.reject(new Error('not used')),
    revert: () => Promise.reject(new Error('not used')),
    delete: () => Promise.resolve(),
    clone: (_sourceId, request) => {
      this.cloneRequests.push(request);
      return Promise.resolve({ method: 'copy', allocatedBytes: 0 });
    },
  };
}

// cloud-init data through the API: checked before anything is stored, kept with the VM, and
// handed to its host in every spec (start, restart, migration target).

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0Zm9vYmFy ops@example.com';
let server: TestServer;

let agent: CloneAgent;

beforeEach(async () => {
  agent = new CloneAgent();
  server = await startTestServer({ agent });
});

afterEach(async () => {
  await server.close();
});

async function call(method: string, url: string, payload?: unknown) {
  return server.app.inject({
    method: method as 'GET',
    url,
    headers: server.auth,
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
}

async function waitFor(operation: Operation): Promise<Operation> {
  const response = await call('GET', `/api/v1/operations/${operation.id}/wait?timeout=10`);
  return response.json<Operation>();
}

describe('VM create with cloud-init', () => {
  it('gives the host a seed with the VM id as instance id, the same after a restart', async () => {
    const created = await call('POST', '/api/v1/vms', {
      name: 'web-1',
      image: 'tiny',
      cloudInit: { sshKeys: [KEY], userData: '#cloud-config\nruncmd: [[echo, hi]]\n' },
    });
    expect(created.statusCode).toBe(202);
    expect(await waitFor(created.json<Operation>())).toMatchObject({ status: 'succeeded' });
    const vm = await server.vms.get('web-1');
    const spec = server.agent.specs.get(vm.id);
    expect(spec?.cloudInit).toEqual({
      instanceId: `iid-${vm.id}`,
      hostname: 'web-1',
      sshKeys: [KEY],
      userData: '#cloud-config\nruncmd: [[echo, hi]]\n',
    });

    const stopped = await call('POST', '/api/v1/vms/web-1/actions', { action: 'stop' });
    await waitFor(stopped.json<Operation>());
    server.agent.specs.clear();
    const started = await call('POST', '/api/v1/vms/web-1/actions', { action: 'start' });
    expect(await waitFor(started.json<Operation>())).toMatchObject({ status: 'succeeded' });
    expect(server.agent.specs.get(vm.id)?.cloudInit?.instanceId).toBe(`iid-${vm.id}`);
    expect(await server.vms.agentSpec(vm)).toMatchObject({ cloudInit: { hostname: 'web-1' } });
    // What a user sees of it: never the user-data itself.
    const summary = await call('GET', '/api/v1/vms/web-1/cloud-init');
    expect(summary.json()).toEqual({
      instanceId: `iid-${vm.id}`,
      hostname: 'web-1',
      sshKeys: 1,
      userDataBytes: 35,
      networkConfig: false,
    });
  });

  it('gives a clone the data as a new instance, named after the clone', async () => {
    const created = await call('POST', '/api/v1/vms', {
      name: 'tmpl',
      image: 'tiny',
      start: false,
      cloudInit: { sshKeys: [KEY], userData: '#cloud-config\n' },
    });
    await waitFor(created.json<Operation>());
    const cloned = await call('POST', '/api/v1/vms/tmpl/clone', { name: 'tmpl-2', start: false });
    expect(cloned.statusCode).toBe(202);
    expect(await waitFor(cloned.json<Operation>())).toMatchObject({ status: 'succeeded' });
    const clone = await server.vms.get('tmpl-2');
    const seed = {
      instanceId: `iid-${clone.id}`,
      hostname: 'tmpl-2',
      sshKeys: [KEY],
      userData: '#cloud-config\n',
    };
    expect(await server.store.cloudInit.get(clone.id)).toEqual(seed);
    expect(agent.cloneRequests[0]?.spec.cloudInit).toEqual(seed);
  });

  it('sends no seed for a VM created without cloud-init', async () => {
    const created = await call('POST', '/api/v1/vms', { name: 'plain', image: 'tiny' });
    await waitFor(created.json<Operation>());
    const vm = await server.vms.get('plain');
    expect(server.agent.specs.get(vm.id)?.cloudInit).toBeUndefined();
    const summary = await call('GET', '/api/v1/vms/plain/cloud-init');
    expect(summary.statusCode).toBe(200);
    expect(summary.json()).toBeNull();
  });

  it('refuses bad cloud-init data with 400 and stores nothing', async () => {
    const cases: [unknown, string][] = [
      [{ userData: 'runcmd: [[echo, hi]]\n' }, 'CLOUD_INIT_INVALID'],
      [{ sshKeys: ['not a key'] }, 'CLOUD_INIT_INVALID'],
      [{ networkConfig: 'ethernets: {}\n' }, 'CLOUD_INIT_INVALID'],
      [{ hostname: 'under_score' }, 'VALIDATION_FAILED'],
      [{ userData: `#cloud-config\n${'x'.repeat(70_000)}` }, 'VALIDATION_FAILED'],
      [{ sshKeys: Array.from({ length: 33 }, () => KEY) }, 'VALIDATION_FAILED'],
      [{ vendorData: 'x' }, 'VALIDATION_FAILED'],
    ];
    for (const [cloudInit, code] of cases) {
      const refused = await call('POST', '/api/v1/vms', { name: 'bad', image: 'tiny', cloudInit });
      expect(refused.statusCode, JSON.stringify(cloudInit).slice(0, 80)).toBe(400);
      expect(refused.json<ErrorBody>().error.code).toBe(code);
    }
    expect((await call('GET', '/api/v1/vms/bad')).statusCode).toBe(404);
    expect(server.agent.calls).toEqual([]);
  });
});
