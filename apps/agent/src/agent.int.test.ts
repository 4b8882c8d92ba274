import { join } from 'node:path';
import type { AgentHostInfo, AgentVmSpec, AgentVmStatus, ErrorBody } from '@novacron/api';
import { ClusterCa, SERVER_PEER_NAME, type TlsIdentity } from '@novacron/auth';
import { ensureTinyImage, processArguments, type TinyImage } from '@novacron/qemu';
import { killMatching, makeTempDir, testCacheDir, waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from './start-agent.js';
import { stopAllVms } from './stop-all.js';
import { callAgent, seedTinyImage, silentLogger } from './testing.js';

// A real agent on a random port, real QEMU under TCG, the tiny guest from the repository cache,
// called over mutual TLS as the server calls it. No server: the image is put in the agent's cache.
const imageDir = join(testCacheDir, 'tiny-image', 'images');
let image: TinyImage;
let temp: { path: string; remove(): Promise<void> };
const agents: RunningAgent[] = [];
let agentTls: TlsIdentity;
let serverTls: TlsIdentity;

beforeAll(async () => {
  image = await ensureTinyImage({
    cacheDir: join(testCacheDir, 'tiny-image'),
    outDir: join(imageDir, 'tiny'),
  });
  temp = await makeTempDir('nc-agent-');
  const ca = await ClusterCa.create();
  agentTls = await ca.issueIdentity(
    { role: 'agent', name: 'test-host' },
    { addresses: ['127.0.0.1'] },
  );
  serverTls = await ca.issueIdentity({ role: 'server', name: SERVER_PEER_NAME });
  // What a pull from the server leaves: the files under <id>/<sha256>/.
  await seedTinyImage(temp.path, image);
}, 600_000);

afterAll(async () => {
  for (const agent of agents) await agent.close().catch(() => undefined);
  // Kill every QEMU this file started, whatever state a failed test left them in.
  if (temp) {
    await killMatching(temp.path);
    await temp.remove();
  }
});

async function start(): Promise<RunningAgent> {
  const agent = await startAgent({
    config: {
      agentHost: '127.0.0.1',
      agentPort: 0,
      accel: 'auto',
      dataDir: temp.path,
    },
    logger: silentLogger,
    identity: { name: 'test-host', tls: agentTls },
    probeImage: () => Promise.resolve(image),
  });
  agents.push(agent);
  return agent;
}

function call<T>(
  agent: RunningAgent,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  return callAgent<T>(serverTls, agent, 'test-host', method, path, body);
}

function spec(id: string, kernelArgs = ''): AgentVmSpec {
  return {
    id,
    name: id,
    cpus: 1,
    memoryMiB: 256,
    diskGiB: 1,
    image: {
      id: 'tiny',
      name: 'tiny',
      kind: 'kernel',
      sha256: image.sha256,
      defaultKernelArgs: image.defaultKernelArgs,
    },
    kernelArgs,
    machineType: 'pc-q35-7.2',
    desiredState: 'running',
  };
}

async function consoleOf(agent: RunningAgent, id: string): Promise<string> {
  return (await call<string>(agent, 'GET', `/v1/vms/${id}/console`)).body;
}

function count(text: string, pattern: RegExp): number {
  return (text.match(pattern) ?? []).length;
}

describe('agent', () => {
  let agent: RunningAgent;

  it('reports the host it runs on', async () => {
    agent = await start();
    const { status, body } = await call<AgentHostInfo>(agent, 'GET', '/v1/host');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      name: 'test-host',
      accelerator: 'tcg',
      qemuVersion: expect.stringMatching(/^\d+\.\d+\.\d+$/) as unknown,
    });
    expect(body.cpus).toBeGreaterThan(0);
    expect(body.memoryMiB).toBeGreaterThan(0);
    expect(body.acceleratorReason).not.toBe('');
  });

  it('runs a VM: PUT starts it, its console shows READY, stop powers it off, DELETE removes it', async () => {
    const putStarted = Date.now();
    const put = await call<AgentVmStatus>(agent, 'PUT', '/v1/vms/vm-a', spec('vm-a'));
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ id: 'vm-a', state: 'running', reason: null });
    expect(put.body.pid).toBeGreaterThan(0);
    // Ensuring again changes nothing: same QEMU.
    expect((await call<AgentVmStatus>(agent, 'PUT', '/v1/vms/vm-a', spec('vm-a'))).body.pid).toBe(
      put.body.pid,
    );

    await waitFor(
      'READY on the console',
      async () =>
        (await consoleOf(agent, 'vm-a')).includes('NOVACRON-GUEST-READY') ? true : undefined,
      60_000,
      100,
    );
    const readyMs = Date.now() - putStarted;
    await waitFor(
      'a heartbeat',
      async () => (count(await consoleOf(agent, 'vm-a'), /^HEARTBEAT /gm) >= 1 ? true : undefined),
      20_000,
    );

    const stopStarted = Date.now();
    const stop = await call<AgentVmStatus>(agent, 'POST', '/v1/vms/vm-a/state', {
      action: 'stop',
      timeoutSeconds: 20,
    });
    const stopMs = Date.now() - stopStarted;
    expect(stop.body).toEqual({ id: 'vm-a', state: 'stopped', pid: null, reason: null });
    expect(await consoleOf(agent, 'vm-a')).toContain('NOVACRON-GUEST-POWEROFF');
    console.info(`agent: PUT to READY ${readyMs} ms; graceful stop ${stopMs} ms`);

    expect((await call(agent, 'DELETE', '/v1/vms/vm-a')).status).toBe(204);
    expect((await call<ErrorBody>(agent, 'GET', '/v1/vms/vm-a')).body.error.code).toBe(
      'VM_NOT_FOUND',
    );
  });

  it('pauses, resumes and reboots through QMP', async () => {
    await call(agent, 'PUT', '/v1/vms/vm-b', spec('vm-b'));
    await waitFor(
      'READY',
      async () =>
        (await consoleOf(agent, 'vm-b')).includes('NOVACRON-GUEST-READY') ? true : undefined,
      60_000,
    );
    const action = async (name: string) =>
      (await call<AgentVmStatus>(agent, 'POST', '/v1/vms/vm-b/state', { action: name })).body.state;
    expect(await action('pause')).toBe('paused');
    expect(await action('resume')).toBe('running');
    expect(await action('reboot')).toBe('running');
    await waitFor(
      'READY after the reboot',
      async () =>
        count(await consoleOf(agent, 'vm-b'), /NOVACRON-GUEST-READY/g) >= 2 ? true : undefined,
      60_000,
    );
    // A paused guest still stops gracefully: it is resumed to see the power button.
    expect(await action('pause')).toBe('paused');
    expect(await action('stop')).toBe('stopped');
    expect((await call(agent, 'DELETE', '/v1/vms/vm-b')).status).toBe(204);
  });

  it('forces the stop when the guest does not power off within timeoutSeconds', async () => {
    // Right after start the guest has no power-button handler yet (it may miss the press).
    await call(agent, 'PUT', '/v1/vms/vm-f', spec('vm-f'));
    const started = Date.now();
    const stop = await call<AgentVmStatus>(agent, 'POST', '/v1/vms/vm-f/state', {
      action: 'stop',
      timeoutSeconds: 1,
    });
    expect(stop.body).toMatchObject({ state: 'stopped', pid: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await call(agent, 'DELETE', '/v1/vms/vm-f')).status).toBe(204);
  });

  it('reports a QEMU that died unasked as error', async () => {
    const { body } = await call<AgentVmStatus>(agent, 'PUT', '/v1/vms/vm-c', spec('vm-c'));
    process.kill(body.pid ?? 0, 'SIGKILL');
    const seen = await waitFor(
      'the crash',
      async () => {
        const status = (await call<AgentVmStatus>(agent, 'GET', '/v1/vms/vm-c')).body;
        return status.state === 'error' ? status : undefined;
      },
      10_000,
    );
    expect(seen).toMatchObject({ pid: null, reason: expect.any(String) as unknown });
    expect((await call(agent, 'DELETE', '/v1/vms/vm-c')).status).toBe(204);
  });

  it('leaves VMs running when it stops, and a new agent re-attaches to them', async () => {
    const { body: started } = await call<AgentVmStatus>(agent, 'PUT', '/v1/vms/vm-d', spec('vm-d'));
    await waitFor(
      'READY',
      async () =>
        (await consoleOf(agent, 'vm-d')).includes('NOVACRON-GUEST-READY') ? true : undefined,
      60_000,
    );
    await agent.close();
    expect(await processArguments(started.pid ?? 0)).not.toBeNull();

    agent = await start();
    const { body: after } = await call<AgentVmStatus>(agent, 'GET', '/v1/vms/vm-d');
    expect(after).toEqual({ id: 'vm-d', state: 'running', pid: started.pid, reason: null });
    const list = await call<AgentVmStatus[]>(agent, 'GET', '/v1/vms');
    expect(list.body.map((vm) => vm.id)).toEqual(['vm-d']);
    // The guest kept running and QEMU kept logging its console meanwhile.
    const beats = count(await consoleOf(agent, 'vm-d'), /^HEARTBEAT /gm);
    await waitFor(
      'more heartbeats',
      async () =>
        count(await consoleOf(agent, 'vm-d'), /^HEARTBEAT /gm) > beats ? true : undefined,
      10_000,
    );

    const stop = await call<AgentVmStatus>(agent, 'POST', '/v1/vms/vm-d/state', {
      action: 'stop',
      force: true,
    });
    expect(stop.body.state).toBe('stopped');
    expect(await processArguments(started.pid ?? 0)).toBeNull();
  });

  it('stopAllVms powers off every VM without an agent', async () => {
    await call(agent, 'PUT', '/v1/vms/vm-e', spec('vm-e'));
    await waitFor(
      'READY',
      async () =>
        (await consoleOf(agent, 'vm-e')).includes('NOVACRON-GUEST-READY') ? true : undefined,
      60_000,
    );
    await agent.close();
    expect(await stopAllVms({ dataDir: temp.path, logger: silentLogger, timeoutSeconds: 20 })).toBe(
      1,
    );
    agent = await start();
    expect((await call<AgentVmStatus>(agent, 'GET', '/v1/vms/vm-e')).body.state).toBe('stopped');
    expect(await stopAllVms({ dataDir: temp.path, logger: silentLogger })).toBe(0);
  });
});
