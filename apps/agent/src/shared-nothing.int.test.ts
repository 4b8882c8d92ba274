import { readFile, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type {
  AgentDirtyRateReply,
  AgentDiskCopy,
  AgentIncomingReply,
  AgentMigrationSettings,
  AgentMigrationStatus,
  AgentNbdExport,
  AgentVmSpec,
  AgentVmStatus,
  ErrorBody,
} from '@novacron/api';
import { processArguments } from '@novacron/qemu';
import { waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentPair, tinyImageRef, type AgentPair, type PairHost } from './testing.js';

// Shared-nothing live migration between two real agents on loopback, each with only its local
// pool: the target exports a fresh disk over NBD (TLS with the cluster certificates), the source
// mirrors its disk into it while the guest keeps writing, then memory moves. The guest itself
// checks that the disk on the target holds what it wrote.
const VM = 'sn1';
const MiB = 1024 * 1024;
/** The guest writes 64 KiB blocks at these many offsets of its disk, round and round. */
const BLOCKS = 256;

let pair: AgentPair;

beforeAll(async () => {
  pair = await startAgentPair({ tempPrefix: 'nc-sn-', sharedPool: false });
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
    pool: 'local',
  };
}

const settings: AgentMigrationSettings = {
  strategy: 'precopy',
  postcopyReady: false,
  maxBandwidthBytes: 128 * MiB,
  maxDowntimeMs: 300,
  multifdChannels: 0,
  compression: 'none',
  xbzrle: false,
  tls: true,
};

const vmDir = (key: 'a' | 'b') => join(pair.hosts[key].dataDir, 'agent', 'vms', VM);

function consoleLog(key: 'a' | 'b'): Promise<string> {
  return readFile(join(vmDir(key), 'console.log'), 'utf8').catch(() => '');
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

/**
 * Types `command` on the guest's serial shell (the VM's serial socket on that host) and answers
 * what the console printed up to the shell's verdict.
 */
async function shell(key: 'a' | 'b', command: string, tag: number): Promise<string> {
  const socket = createConnection(join(vmDir(key), 'serial.sock'));
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('utf8');
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    // The echo of the line differs from the answer: $((...)) is only expanded by the shell.
    socket.write(`${command} && echo CMD-OK-$((${tag}+1)) || echo CMD-FAILED-$((${tag}+1))\n`);
    const outcome = await waitFor(
      `the outcome of '${command}'`,
      () => Promise.resolve(new RegExp(`CMD-(OK|FAILED)-${tag + 1}\\b`).exec(received)?.[1]),
      120_000,
      100,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; the console showed:\n${received}`);
    });
    if (outcome !== 'OK') throw new Error(`'${command}' failed:\n${received}`);
    return received;
  } finally {
    socket.destroy();
  }
}

/** The guest's md5 of its disk's first BLOCKS blocks and of its own copy of what it wrote. */
async function checksums(key: 'a' | 'b', tag: number): Promise<{ disk: string; copy: string }> {
  const out = await shell(
    key,
    `sync && echo 3 > /proc/sys/vm/drop_caches && ` +
      `echo DISK-$(dd if=/dev/vda bs=64k count=${BLOCKS} 2>/dev/null | md5sum | cut -c1-32) ` +
      `COPY-$(md5sum < /tmp/copy | cut -c1-32)`,
    tag,
  );
  const match = /DISK-([0-9a-f]{32}) COPY-([0-9a-f]{32})/.exec(out);
  if (!match) throw new Error(`no checksums in:\n${out}`);
  return { disk: match[1] ?? '', copy: match[2] ?? '' };
}

describe('shared-nothing live migration', () => {
  it('mirrors the local disk of a guest that keeps writing, then moves it live', async () => {
    const put = await call<AgentVmStatus>('a', 'PUT', `/v1/vms/${VM}`, spec());
    expect(put.body).toMatchObject({ state: 'running' });
    await stat(join(vmDir('a'), 'disk.qcow2'));
    await waitFor(
      'the first heartbeat',
      async () => (heartbeats(await consoleLog('a')).length > 0 ? true : undefined),
      120_000,
    );
    // The guest writes random 64 KiB blocks round its disk's first 16 MiB, keeping a copy of each
    // in RAM (/tmp is the initramfs), until told to stop.
    await shell(
      'a',
      `dd if=/dev/zero of=/tmp/copy bs=64k count=${BLOCKS} 2>/dev/null && ` +
        `( i=0; while [ ! -e /tmp/stop ]; do o=$((i % ${BLOCKS})); ` +
        `dd if=/dev/urandom of=/tmp/b bs=64k count=1 2>/dev/null; ` +
        `dd if=/tmp/b of=/dev/vda bs=64k seek=$o count=1 conv=notrunc,fsync 2>/dev/null; ` +
        `dd if=/tmp/b of=/tmp/copy bs=64k seek=$o count=1 conv=notrunc 2>/dev/null; ` +
        `i=$((i+1)); done ) > /dev/null 2>&1 & true`,
      1,
    );
    await waitFor(
      'the guest to have written to its disk',
      async () => {
        const rate = await call<AgentDirtyRateReply>('a', 'POST', `/v1/vms/${VM}/dirty-rate`, {
          seconds: 1,
        });
        return (rate.body.diskBytes ?? 0) > MiB ? rate.body : undefined;
      },
      60_000,
    );

    const incoming = await call<AgentIncomingReply>(
      'b',
      'POST',
      `/v1/vms/${VM}/migration/incoming`,
      {
        spec: spec(),
        settings,
      },
    );
    expect(incoming.status).toBe(200);
    expect(incoming.body.nbd).toMatchObject({ host: '127.0.0.1', export: 'disk0' });
    const nbd = incoming.body.nbd;
    if (!nbd) throw new Error('no NBD export');
    // The target made a fresh disk of its own.
    await stat(join(vmDir('b'), 'disk.qcow2'));

    // Outgoing before the mirror is in sync is refused.
    const early = await call<ErrorBody>('a', 'POST', `/v1/vms/${VM}/migration/outgoing`, {
      uri: incoming.body.uri,
      tlsHostname: incoming.body.tlsHostname,
      settings,
    });
    expect(early.status).toBe(409);

    const mirror = await call<AgentMigrationStatus>('a', 'POST', `/v1/vms/${VM}/migration/mirror`, {
      nbd,
      tls: true,
      tlsHostname: incoming.body.tlsHostname,
    });
    expect(mirror.status).toBe(200);
    expect(mirror.body.mirror).toBeDefined();
    expect((await vmStatus('a')).state).toBe('migrating');
    const ready = await waitFor(
      'the mirror to be in sync',
      async () => {
        const status = await migrationOf('a');
        if (status.mirror?.error) throw new Error(status.mirror.error);
        return status.mirror?.ready ? status : undefined;
      },
      120_000,
      100,
    );
    expect(ready.mirror?.doneBytes).toBeGreaterThan(MiB);

    const beforeMove = Math.max(...heartbeats(await consoleLog('a')));
    const outgoing = await call<AgentMigrationStatus>(
      'a',
      'POST',
      `/v1/vms/${VM}/migration/outgoing`,
      {
        uri: incoming.body.uri,
        tlsHostname: incoming.body.tlsHostname,
        settings,
      },
    );
    expect(outgoing.status).toBe(200);
    // QEMU pauses the source before the switch-over; the agent ends the mirror in sync there.
    await waitFor(
      'the source to wait at the switch-over',
      async () => ((await migrationOf('a')).status === 'pre-switchover' ? true : undefined),
      120_000,
      50,
    );
    const switched = await call<AgentMigrationStatus>(
      'a',
      'POST',
      `/v1/vms/${VM}/migration/switchover`,
    );
    expect(switched.status).toBe(200);
    const final = await waitFor(
      'the stream to complete',
      async () => {
        const status = await migrationOf('a');
        if (status.status === 'failed') throw new Error(status.error ?? 'failed');
        return status.status === 'completed' ? status : undefined;
      },
      60_000,
      50,
    );
    await waitFor(
      'the guest to run on the target',
      async () => ((await vmStatus('b')).state === 'running' ? true : undefined),
      30_000,
      50,
    );
    const sourcePid = (await vmStatus('a')).pid;
    expect((await call('a', 'POST', `/v1/vms/${VM}/migration/complete`)).status).toBe(204);
    expect(await processArguments(sourcePid ?? 0)).toBeNull();
    // The source's local disk went with its folder, only now that the target runs the guest.
    await expect(stat(join(vmDir('a'), 'disk.qcow2'))).rejects.toThrow();

    // The same guest carries on on the target and its writer with it; then it stops the writer
    // and compares what its disk holds with its own copy of what it wrote.
    await waitFor(
      'a heartbeat on the target',
      async () =>
        heartbeats(await consoleLog('b')).some((n) => n > beforeMove) ? true : undefined,
      60_000,
    );
    await shell('b', 'touch /tmp/stop && sleep 2', 3);
    const sums = await checksums('b', 5);
    expect(sums.disk).toBe(sums.copy);
    expect(sums.disk).not.toBe('');
    console.info(
      `shared-nothing: mirrored ${ready.mirror?.doneBytes} bytes, then ${final.totalTimeMs} ms memory stream, downtime ${final.downtimeMs} ms; disk md5 ${sums.disk} = the guest's copy`,
    );
  }, 600_000);

  it("copies the stopped VM's disk cold, and the guest boots on it elsewhere", async () => {
    const before = await checksums('b', 7);
    const stop = await call('b', 'POST', `/v1/vms/${VM}/state`, { action: 'stop', force: true });
    expect(stop.status).toBe(200);
    const stopped = { ...spec(), desiredState: 'stopped' as const };
    const nbd = await call<AgentNbdExport>('a', 'POST', `/v1/vms/${VM}/migration/disk`, {
      spec: stopped,
      tls: true,
    });
    expect(nbd.status).toBe(200);
    const copy = await call<AgentDiskCopy>('b', 'POST', `/v1/vms/${VM}/migration/disk/outgoing`, {
      nbd: nbd.body,
      tls: true,
      tlsHostname: '127.0.0.1',
    });
    expect(copy.status).toBe(200);
    const arrived = await call<AgentDiskCopy>('a', 'POST', `/v1/vms/${VM}/migration/disk/done`);
    expect(arrived.body.allocatedBytes).toBe(copy.body.allocatedBytes);
    expect(copy.body.copiedBytes).toBeGreaterThan(MiB);

    // The target takes the VM, the source lets go of its copy; the guest boots on the copy.
    expect((await call('b', 'POST', `/v1/vms/${VM}/migration/complete`)).status).toBe(204);
    await expect(stat(join(vmDir('b'), 'disk.qcow2'))).rejects.toThrow();
    const put = await call<AgentVmStatus>('a', 'PUT', `/v1/vms/${VM}`, spec());
    expect(put.body).toMatchObject({ state: 'running' });
    await waitFor(
      'the guest to boot on a',
      async () => (heartbeats(await consoleLog('a')).length > 0 ? true : undefined),
      120_000,
    );
    const out = await shell(
      'a',
      `echo SUM-$(dd if=/dev/vda bs=64k count=${BLOCKS} 2>/dev/null | md5sum | cut -c1-32)`,
      9,
    );
    expect(/SUM-([0-9a-f]{32})/.exec(out)?.[1]).toBe(before.disk);
    console.info(
      `shared-nothing: cold copy of ${copy.body.copiedBytes} bytes, ${arrived.body.allocatedBytes} allocated on both sides`,
    );
  }, 600_000);
});
