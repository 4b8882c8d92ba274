import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  AgentDirtyRateReply,
  AgentHostInfo,
  AgentIncomingReply,
  AgentMigrationSettings,
  AgentMigrationStatus,
  AgentVmSpec,
  AgentVmStatus,
  ErrorBody,
} from '@novacron/api';
import { processArguments } from '@novacron/qemu';
import { makeTempDir, waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from './start-agent.js';
import {
  silentLogger,
  startAgentPair,
  tinyImageRef,
  type AgentPair,
  type PairHost,
} from './testing.js';

// Two real agents in this process on loopback, each with its own data folder, sharing one pool
// folder; real QEMU under TCG moves the tiny guest between them over QEMU's own TLS with the
// cluster certificates. Called over mutual TLS as the server calls them.
const VM = 'mig1';
const MiB = 1024 * 1024;

let pair: AgentPair;

beforeAll(async () => {
  pair = await startAgentPair({ tempPrefix: 'nc-mig-', sharedPool: true });
}, 600_000);

afterAll(async () => {
  // Unset when the start failed, which cleaned up after itself.
  await (pair as AgentPair | undefined)?.close();
});

function call<T>(
  key: PairHost,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  return pair.call<T>(key, method, path, body);
}

function spec(): AgentVmSpec {
  return {
    id: VM,
    name: VM,
    cpus: 1,
    memoryMiB: 256,
    diskGiB: 1,
    image: tinyImageRef(pair.image),
    kernelArgs: '',
    machineType: 'pc-q35-7.2',
    desiredState: 'running',
    pool: 'shared',
  };
}

function settings(overrides: Partial<AgentMigrationSettings> = {}): AgentMigrationSettings {
  return {
    strategy: 'precopy',
    postcopyReady: false,
    maxBandwidthBytes: 128 * MiB,
    maxDowntimeMs: 300,
    multifdChannels: 0,
    compression: 'none',
    xbzrle: false,
    tls: true,
    ...overrides,
  };
}

function consoleLog(key: 'a' | 'b'): Promise<string> {
  return readFile(join(pair.hosts[key].dataDir, 'agent', 'vms', VM, 'console.log'), 'utf8').catch(
    () => '',
  );
}

function heartbeats(text: string): number[] {
  return [...text.matchAll(/^HEARTBEAT (\d+) /gm)].map((match) => Number(match[1]));
}

async function vmStatus(key: 'a' | 'b'): Promise<AgentVmStatus> {
  return (await call<AgentVmStatus>(key, 'GET', `/v1/vms/${VM}`)).body;
}

async function migrationOf(key: 'a' | 'b'): Promise<AgentMigrationStatus> {
  return (await call<AgentMigrationStatus>(key, 'GET', `/v1/vms/${VM}/migration`)).body;
}

async function waitForStatus(
  key: 'a' | 'b',
  done: (status: AgentMigrationStatus) => boolean,
  timeoutMs = 60_000,
): Promise<AgentMigrationStatus> {
  let last: AgentMigrationStatus | undefined;
  try {
    return await waitFor(
      `migration status on ${key}`,
      async () => {
        last = await migrationOf(key);
        return done(last) ? last : undefined;
      },
      timeoutMs,
      50,
    );
  } catch (error) {
    throw new Error(`${String(error)}; last seen ${JSON.stringify(last)}`);
  }
}

/** Waits until the guest has printed a heartbeat numbered above `after` on that host. */
async function heartbeatAbove(key: 'a' | 'b', after: number): Promise<number[]> {
  return waitFor(
    `a heartbeat above ${after} on ${key}`,
    async () => {
      const beats = heartbeats(await consoleLog(key));
      return beats.some((n) => n > after) ? beats : undefined;
    },
    // The first boot on a busy machine (other tests run QEMU too) can take a while.
    90_000,
  );
}

/** Moves the VM from one agent to the other; answers both sides' readings and the pids. */
async function migrate(
  from: 'a' | 'b',
  to: 'a' | 'b',
  chosen: AgentMigrationSettings,
  during?: () => Promise<void>,
) {
  const sourcePid = (await vmStatus(from)).pid;
  const incoming = await call<AgentIncomingReply>(to, 'POST', `/v1/vms/${VM}/migration/incoming`, {
    spec: spec(),
    settings: chosen,
  });
  expect(incoming.status).toBe(200);
  expect(incoming.body.uri).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
  expect(incoming.body.tlsHostname).toBe('127.0.0.1');
  // A repeat answers the same address (idempotent).
  const again = await call<AgentIncomingReply>(to, 'POST', `/v1/vms/${VM}/migration/incoming`, {
    spec: spec(),
    settings: chosen,
  });
  expect(again.body.uri).toBe(incoming.body.uri);
  expect((await vmStatus(to)).state).toBe('migrating');

  const outgoing = await call<AgentMigrationStatus>(
    from,
    'POST',
    `/v1/vms/${VM}/migration/outgoing`,
    { uri: incoming.body.uri, tlsHostname: incoming.body.tlsHostname, settings: chosen },
  );
  expect(outgoing.status).toBe(200);
  expect(['setup', 'active', 'completed']).toContain(outgoing.body.status);
  expect((await vmStatus(from)).state).toBe('migrating');
  await during?.();

  const source = await waitForStatus(
    from,
    (s) => s.status === 'completed' || s.status === 'failed',
  );
  expect(source).toMatchObject({ status: 'completed' });
  const target = await waitFor(
    'the guest to run on the target',
    async () => {
      const status = await vmStatus(to);
      return status.state === 'running' ? status : undefined;
    },
    30_000,
    50,
  );
  return { source, sourcePid, targetPid: target.pid };
}

describe('live migration between two agents', () => {
  it('reports the shared pool and measures the dirty rate of the running guest', async () => {
    const host = await call<AgentHostInfo>('a', 'GET', '/v1/host');
    expect(host.body.sharedPool).toBe(true);

    const put = await call<AgentVmStatus>('a', 'PUT', `/v1/vms/${VM}`, spec());
    expect(put.body).toMatchObject({ state: 'running' });
    // The disk lives in the shared pool, not in the agent's VM folder.
    await stat(join(pair.dir, 'pool', 'vms', VM, 'disk.qcow2'));
    await expect(
      stat(join(pair.hosts.a.dataDir, 'agent', 'vms', VM, 'disk.qcow2')),
    ).rejects.toThrow();
    await heartbeatAbove('a', 1);

    // Two planners asking at once (two users, two browser tabs) share one measurement: QEMU
    // refuses a second calc-dirty-rate while one runs.
    const measure = () =>
      call<AgentDirtyRateReply>('a', 'POST', `/v1/vms/${VM}/dirty-rate`, { seconds: 1 });
    const [rate, overlapping] = await Promise.all([measure(), measure()]);
    expect(overlapping.status).toBe(200);
    expect(rate.status).toBe(200);
    expect(rate.body.measuredSeconds).toBe(1);
    expect(rate.body.dirtyRateBytes).toBeGreaterThanOrEqual(0);
    console.info(`migration: idle tiny guest dirties ${rate.body.dirtyRateBytes} bytes/s`);
  });

  it('moves the running guest to the other host with pre-copy over TLS', async () => {
    const result = await migrate('a', 'b', settings());
    expect(result.targetPid).not.toBe(result.sourcePid);
    // The source's QEMU waits in postmigrate, also as a restarted agent finds it: the VM must not
    // be started or stopped meanwhile.
    await pair.restart('a');
    expect(await vmStatus('a')).toMatchObject({ state: 'migrating', pid: result.sourcePid });
    const refused = await call<ErrorBody>('a', 'POST', `/v1/vms/${VM}/state`, { action: 'resume' });
    expect(refused.status).toBe(409);

    const lastOnSource = Math.max(...heartbeats(await consoleLog('a')));
    const complete = await call('a', 'POST', `/v1/vms/${VM}/migration/complete`);
    expect(complete.status).toBe(204);
    expect(await processArguments(result.sourcePid ?? 0)).toBeNull();
    expect((await call<ErrorBody>('a', 'GET', `/v1/vms/${VM}`)).body.error.code).toBe(
      'VM_NOT_FOUND',
    );
    // Idempotent, and the shared disk stays: it belongs to the host running the VM.
    expect((await call('a', 'POST', `/v1/vms/${VM}/migration/complete`)).status).toBe(204);
    await stat(join(pair.dir, 'pool', 'vms', VM, 'disk.qcow2'));

    // The same guest carries on: its counter continues on the target, no reboot.
    const onTarget = await heartbeatAbove('b', lastOnSource);
    expect(Math.min(...onTarget)).toBeGreaterThanOrEqual(lastOnSource);
    expect(Math.min(...onTarget)).toBeLessThanOrEqual(lastOnSource + 3);
    expect(await consoleLog('b')).not.toContain('NOVACRON-GUEST-READY');
    expect((await vmStatus('b')).pid).toBe(result.targetPid);
    console.info(
      `migration: pre-copy+TLS ${result.source.totalTimeMs} ms total, downtime ${result.source.downtimeMs} ms, ${result.source.transferredBytes} bytes; heartbeat ${lastOnSource} on the source, ${Math.min(...onTarget)} first on the target`,
    );
  });

  it('moves it back with a switch to post-copy', async () => {
    const lastBefore = Math.max(...heartbeats(await consoleLog('b')));
    let switched: AgentMigrationStatus | undefined;
    const result = await migrate(
      'b',
      'a',
      // A slow stream, so that the switch happens while pre-copy still runs.
      settings({ strategy: 'postcopy', postcopyReady: true, maxBandwidthBytes: 2 * MiB }),
      async () => {
        await waitForStatus('b', (s) => s.status === 'active', 10_000);
        const reply = await call<AgentMigrationStatus>(
          'b',
          'POST',
          `/v1/vms/${VM}/migration/postcopy`,
        );
        expect(reply.status).toBe(200);
        switched = reply.body;
        // Too late to cancel now: the source no longer holds the whole guest.
        const cancel = await call<ErrorBody & AgentMigrationStatus>(
          'b',
          'DELETE',
          `/v1/vms/${VM}/migration`,
        );
        if (cancel.status === 200) expect(cancel.body.status).toBe('completed');
        else expect(cancel.body.error.code).toBe('VM_INVALID_STATE');
      },
    );
    expect(switched?.status).toMatch(/^postcopy-|^completed$/);
    expect(result.source.postcopyRequests).toBeGreaterThanOrEqual(0);
    const lastOnSource = Math.max(...heartbeats(await consoleLog('b')));
    expect(lastOnSource).toBeGreaterThanOrEqual(lastBefore);
    expect((await call('b', 'POST', `/v1/vms/${VM}/migration/complete`)).status).toBe(204);
    const onTarget = await heartbeatAbove('a', lastOnSource);
    expect(Math.min(...onTarget)).toBeGreaterThanOrEqual(lastOnSource);
    expect(Math.min(...onTarget)).toBeLessThanOrEqual(lastOnSource + 3);
    expect((await vmStatus('a')).pid).toBe(result.targetPid);
    console.info(
      `migration: post-copy switch ${result.source.totalTimeMs} ms total, downtime ${result.source.downtimeMs} ms, ${result.source.postcopyRequests} post-copy page requests`,
    );
  });

  it('cancels a running migration: the guest keeps running on the source', async () => {
    const before = await vmStatus('a');
    const incoming = await call<AgentIncomingReply>(
      'b',
      'POST',
      `/v1/vms/${VM}/migration/incoming`,
      {
        spec: spec(),
        settings: settings({ maxBandwidthBytes: 2 * MiB }),
      },
    );
    const outgoing = await call<AgentMigrationStatus>(
      'a',
      'POST',
      `/v1/vms/${VM}/migration/outgoing`,
      {
        uri: incoming.body.uri,
        tlsHostname: incoming.body.tlsHostname,
        settings: settings({ maxBandwidthBytes: 2 * MiB }),
      },
    );
    expect(outgoing.status).toBe(200);
    await waitForStatus('a', (s) => s.status === 'active', 10_000);
    // Tighter and looser while it runs; no post-copy without postcopy-ram.
    const tuned = await call<AgentMigrationStatus>('a', 'PATCH', `/v1/vms/${VM}/migration`, {
      maxBandwidthBytes: 1 * MiB,
      maxDowntimeMs: 100,
    });
    expect(tuned.status).toBe(200);
    // Both agents restart mid-stream: they find their QEMUs and report them truthfully.
    await pair.restart('a');
    await pair.restart('b');
    expect(await vmStatus('a')).toMatchObject({ state: 'migrating', pid: before.pid });
    expect((await vmStatus('b')).state).toBe('migrating');
    expect((await migrationOf('a')).status).toBe('active');
    const repeat = await call<AgentIncomingReply>('b', 'POST', `/v1/vms/${VM}/migration/incoming`, {
      spec: spec(),
      settings: settings({ maxBandwidthBytes: 2 * MiB }),
    });
    expect(repeat.body.uri).toBe(incoming.body.uri);
    const postcopy = await call<ErrorBody>('a', 'POST', `/v1/vms/${VM}/migration/postcopy`);
    expect(postcopy.status).toBe(409);
    // Deleting a migrating VM is refused: its disk would go with it.
    expect((await call<ErrorBody>('b', 'DELETE', `/v1/vms/${VM}`)).status).toBe(409);

    const cancelled = await call<AgentMigrationStatus>('a', 'DELETE', `/v1/vms/${VM}/migration`);
    expect(cancelled.body.status).toBe('cancelled');
    const target = await call<AgentMigrationStatus>('b', 'DELETE', `/v1/vms/${VM}/migration`);
    expect(target.body.status).toBe('cancelled');
    expect((await call<ErrorBody>('b', 'GET', `/v1/vms/${VM}`)).status).toBe(404);
    // Both idempotent.
    expect(
      (await call<AgentMigrationStatus>('b', 'DELETE', `/v1/vms/${VM}/migration`)).body,
    ).toEqual({ status: 'none' });
    expect(
      (await call<AgentMigrationStatus>('a', 'DELETE', `/v1/vms/${VM}/migration`)).body.status,
    ).toBe('cancelled');

    const after = await vmStatus('a');
    expect(after).toMatchObject({ state: 'running', pid: before.pid });
    await stat(join(pair.dir, 'pool', 'vms', VM, 'disk.qcow2'));
    const last = Math.max(...heartbeats(await consoleLog('a')));
    await heartbeatAbove('a', last);
  });

  it('moves it with multifd and zstd over TLS, and back with XBZRLE', async () => {
    const there = await migrate('a', 'b', settings({ multifdChannels: 2, compression: 'zstd' }));
    expect((await call('a', 'POST', `/v1/vms/${VM}/migration/complete`)).status).toBe(204);
    const back = await migrate('b', 'a', settings({ xbzrle: true }));
    expect((await call('b', 'POST', `/v1/vms/${VM}/migration/complete`)).status).toBe(204);
    expect((await vmStatus('a')).pid).toBe(back.targetPid);
    const last = Math.max(...heartbeats(await consoleLog('a')));
    await heartbeatAbove('a', last);
    console.info(
      `migration: multifd x2 zstd+TLS ${there.source.totalTimeMs} ms, downtime ${there.source.downtimeMs} ms; xbzrle+TLS ${back.source.totalTimeMs} ms, downtime ${back.source.downtimeMs} ms`,
    );
  });

  it('refuses to send to a target whose certificate does not name the address dialled', async () => {
    const before = await vmStatus('a');
    const incoming = await call<AgentIncomingReply>(
      'b',
      'POST',
      `/v1/vms/${VM}/migration/incoming`,
      {
        spec: spec(),
        settings: settings(),
      },
    );
    const outgoing = await call<ErrorBody>('a', 'POST', `/v1/vms/${VM}/migration/outgoing`, {
      uri: incoming.body.uri,
      tlsHostname: '10.255.255.254',
      settings: settings(),
    });
    expect(outgoing.status).toBe(502);
    expect(outgoing.body.error.code).toBe('MIGRATION_FAILED');
    expect(outgoing.body.error.message).toMatch(/hostname/i);
    expect(await vmStatus('a')).toMatchObject({ state: 'running', pid: before.pid });
    expect(
      (await call<AgentMigrationStatus>('b', 'DELETE', `/v1/vms/${VM}/migration`)).body,
    ).toEqual({ status: 'cancelled' });
    expect((await call<ErrorBody>('b', 'GET', `/v1/vms/${VM}`)).status).toBe(404);
  });

  it('measures the dirty rate of a guest that writes memory', async () => {
    const asked = 24;
    const dirty: AgentVmSpec = {
      ...spec(),
      id: 'dirty1',
      name: 'dirty1',
      kernelArgs: `workload=dirty dirty_mib_s=${asked} wss_mib=64`,
      pool: 'local',
    };
    await call('a', 'PUT', '/v1/vms/dirty1', dirty);
    const files = join(pair.hosts.a.dataDir, 'agent', 'vms', 'dirty1', 'console.log');
    await waitFor(
      'the guest to write memory',
      async () =>
        ((await readFile(files, 'utf8')).match(/^DIRTY /gm) ?? []).length >= 2 || undefined,
      90_000,
    );
    const rate = await call<AgentDirtyRateReply>('a', 'POST', '/v1/vms/dirty1/dirty-rate', {
      seconds: 2,
    });
    expect(rate.body.measuredSeconds).toBe(2);
    expect(rate.body.dirtyRateBytes).toBeGreaterThan(0);
    console.info(
      `migration: guest asked to dirty ${asked} MiB/s; QEMU measured ${rate.body.dirtyRateBytes / MiB} MiB/s`,
    );
    expect((await call('a', 'DELETE', '/v1/vms/dirty1')).status).toBe(204);
  });

  it('a host without the shared pool refuses a shared VM; delete removes the shared disk', async () => {
    // Host b again, now without the pool setting.
    await pair.agents.b?.close();
    const noPool = await makeTempDir('nc-mig-np-');
    try {
      const agent = await startAgent({
        config: { agentHost: '127.0.0.1', agentPort: 0, accel: 'auto', dataDir: noPool.path },
        logger: silentLogger,
        identity: { name: pair.hosts.b.name, tls: pair.hosts.b.tls },
        probeImage: () => Promise.resolve(pair.image),
      });
      pair.agents.b = agent;
      expect((await call<AgentHostInfo>('b', 'GET', '/v1/host')).body.sharedPool).toBe(false);
      const refused = await call<ErrorBody>('b', 'PUT', `/v1/vms/${VM}`, spec());
      expect(refused.body.error.code).toBe('HOST_PREREQUISITE_MISSING');
      await agent.close();
    } finally {
      await noPool.remove();
    }
    expect((await call('a', 'DELETE', `/v1/vms/${VM}`)).status).toBe(204);
    await expect(stat(join(pair.dir, 'pool', 'vms', VM))).rejects.toThrow();
  });
});
