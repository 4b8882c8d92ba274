import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentHostInfo, AgentVmSpec, AgentVmStatus, ErrorBody } from '@novacron/api';
import type { InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildAgentApp } from './app.js';
import { ImageCache } from './image-cache.js';
import { agentPaths } from './paths.js';
import { VmManager } from './vm-manager.js';
import { VmStateDir } from './vm-state-dir.js';

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
const hostInfo: AgentHostInfo = {
  name: 'test-host',
  cpus: 2,
  memoryMiB: 2048,
  accelerator: 'tcg',
  acceleratorReason: 'forced by the accel=tcg setting',
  qemuVersion: '7.2.22',
};

let dir: string;
let app: ReturnType<typeof buildAgentApp>;
let vms: VmManager;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-'));
  vms = new VmManager({
    stateDir: new VmStateDir(agentPaths(dir)),
    images: new ImageCache({ dir: join(dir, 'images'), logger: silent }),
    accelerator: 'tcg',
    logger: silent,
  });
  app = buildAgentApp({ vms, hostInfo, logger: silent });
});

afterEach(async () => {
  await app.close();
  await vms.close();
  await rm(dir, { recursive: true, force: true });
});

function spec(id: string, overrides: Partial<AgentVmSpec> = {}): AgentVmSpec {
  return {
    id,
    name: id,
    cpus: 1,
    memoryMiB: 128,
    diskGiB: 1,
    image: {
      id: 'tiny',
      name: 'tiny',
      kind: 'kernel',
      sha256: 'ab'.repeat(32),
      defaultKernelArgs: 'quiet',
    },
    kernelArgs: '',
    machineType: 'pc-q35-7.2',
    desiredState: 'stopped',
    ...overrides,
  };
}

describe('agent API', () => {
  it('serves the host info', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/host' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(hostInfo);
  });

  it('records a stopped VM: spec.json and a qcow2 disk, state stopped', async () => {
    const response = await app.inject({ method: 'PUT', url: '/v1/vms/vm1', payload: spec('vm1') });
    expect(response.statusCode).toBe(200);
    expect(response.json<AgentVmStatus>()).toEqual({
      id: 'vm1',
      state: 'stopped',
      pid: null,
      reason: null,
    });
    const files = new VmStateDir(agentPaths(dir)).files('vm1');
    expect((await stat(files.spec)).isFile()).toBe(true);
    expect((await stat(files.disk)).isFile()).toBe(true);
    const list = await app.inject({ method: 'GET', url: '/v1/vms' });
    expect(list.json()).toEqual([{ id: 'vm1', state: 'stopped', pid: null, reason: null }]);
    const console = await app.inject({ method: 'GET', url: '/v1/vms/vm1/console' });
    expect(console.statusCode).toBe(200);
    expect(console.headers['content-type']).toContain('text/plain');
    expect(console.body).toBe('');
  });

  it('answers with stable error codes in the wire error body', async () => {
    const cases: [string, InjectOptions, number, string][] = [
      ['unknown VM', { method: 'GET', url: '/v1/vms/nope' }, 404, 'VM_NOT_FOUND'],
      ['unknown route', { method: 'GET', url: '/v2/nothing' }, 404, 'ROUTE_NOT_FOUND'],
      ['bad id', { method: 'GET', url: '/v1/vms/..%2Fetc' }, 400, 'VALIDATION_FAILED'],
      [
        'id mismatch',
        { method: 'PUT', url: '/v1/vms/a', payload: spec('b') },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'bad body',
        { method: 'PUT', url: '/v1/vms/a', payload: { id: 'a' } },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'bad action',
        { method: 'POST', url: '/v1/vms/a/state', payload: { action: 'explode' } },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'tail too large',
        { method: 'GET', url: '/v1/vms/a/console?tailBytes=99999999' },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'pause a stopped VM',
        { method: 'POST', url: '/v1/vms/vm2/state', payload: { action: 'pause' } },
        409,
        'VM_INVALID_STATE',
      ],
    ];
    await app.inject({ method: 'PUT', url: '/v1/vms/vm2', payload: spec('vm2') });
    for (const [what, request, status, code] of cases) {
      const response = await app.inject(request);
      expect(response.statusCode, what).toBe(status);
      const body = response.json<ErrorBody>();
      expect(body.error.code, what).toBe(code);
      expect(typeof body.error.message, what).toBe('string');
    }
  });

  it('refuses to start a VM whose image is not on the host, and reports it as error', async () => {
    const response = await app.inject({
      method: 'PUT',
      url: '/v1/vms/vm3',
      payload: spec('vm3', { desiredState: 'running' }),
    });
    expect(response.statusCode).toBe(404);
    expect(response.json<ErrorBody>().error.code).toBe('IMAGE_NOT_FOUND');
    const status = await app.inject({ method: 'GET', url: '/v1/vms/vm3' });
    expect(status.json<AgentVmStatus>()).toMatchObject({
      state: 'error',
      reason: expect.stringContaining('tiny') as unknown,
    });
  });

  it('stops an already stopped VM without complaint and deletes idempotently', async () => {
    await app.inject({ method: 'PUT', url: '/v1/vms/vm4', payload: spec('vm4') });
    const stop = await app.inject({
      method: 'POST',
      url: '/v1/vms/vm4/state',
      payload: { action: 'stop' },
    });
    expect(stop.json<AgentVmStatus>().state).toBe('stopped');
    expect((await app.inject({ method: 'DELETE', url: '/v1/vms/vm4' })).statusCode).toBe(204);
    expect((await app.inject({ method: 'DELETE', url: '/v1/vms/vm4' })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/v1/vms/vm4' })).statusCode).toBe(404);
    await expect(stat(new VmStateDir(agentPaths(dir)).files('vm4').dir)).rejects.toThrow();
  });
});
