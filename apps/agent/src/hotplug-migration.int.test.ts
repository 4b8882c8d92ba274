import { readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type {
  AgentHardwareReply,
  AgentIncomingReply,
  AgentMigrationSettings,
  AgentMigrationStatus,
  AgentVmSpec,
  AgentVmStatus,
  ErrorBody,
} from '@novacron/api';
import { processArguments } from '@novacron/qemu';
import { waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentPair, tinyImageRef, type AgentPair, type PairHost } from './testing.js';

// Resize and hotplug across a live migration (docs/adr/0023-resize-and-hotplug.md): a guest that
// got a CPU, a DIMM and a data disk while running moves to another host, whose QEMU is started
// from the same spec with those devices on its command line; the guest keeps them.
const VM = 'hpmig';
const MiB = 1024 * 1024;

let pair: AgentPair;

beforeAll(async () => {
  pair = await startAgentPair({ tempPrefix: 'nc-hpmig-', sharedPool: true });
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

function vmDir(key: 'a' | 'b'): string {
  return join(pair.hosts[key].dataDir, 'agent', 'vms', VM);
}

function consoleLog(key: 'a' | 'b'): Promise<string> {
  return readFile(join(vmDir(key), 'console.log'), 'utf8').catch(() => '');
}

let tag = 500;

/** Types `command` on the guest's serial port on that host; answers its last `KEY=[value]`. */
async function guestValue(key: 'a' | 'b', name: string, command: string): Promise<string> {
  tag += 1;
  const end = `END-${tag + 1}`;
  const socket = createConnection({ path: join(vmDir(key), 'serial.sock') });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  try {
    socket.write(`echo "${name}=[$(${command})]"; echo END-$((${tag}+1))\n`);
    const text = await waitFor(
      `${end} on ${key}`,
      async () => {
        const log = await consoleLog(key);
        return log.includes(end) ? log : undefined;
      },
      60_000,
      100,
    );
    const value = [...text.matchAll(new RegExp(`${name}=\\[(?!\\$)([^\\]]*)\\]`, 'g'))].at(-1);
    if (!value?.[1]) throw new Error(`no ${name} on ${key}`);
    return value[1].trim();
  } finally {
    socket.destroy();
  }
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

describe('hot-added devices across a live migration', () => {
  it('moves a guest with a hot-added CPU, DIMM and data disk; the target has them too', async () => {
    const base: AgentVmSpec = {
      id: VM,
      name: VM,
      cpus: 1,
      memoryMiB: 256,
      diskGiB: 1,
      image: tinyImageRef(pair.image),
      kernelArgs: 'memhp_default_state=online',
      machineType: 'pc-q35-7.2',
      desiredState: 'running',
      pool: 'shared',
      hardware: { maxCpus: 2, maxMemoryMiB: 512, hotCpus: 0, dimmsMiB: [], disks: [], nics: [] },
    };
    expect((await call<AgentVmStatus>('a', 'PUT', `/v1/vms/${VM}`, base)).body.state).toBe(
      'running',
    );
    await waitFor(
      'READY on a',
      async () => ((await consoleLog('a')).includes('NOVACRON-GUEST-READY') ? true : undefined),
      120_000,
      200,
    );
    const memBefore = Number(
      await guestValue('a', 'MEM', "grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2"),
    );

    // Live on a: one CPU, one 128 MiB DIMM, one data disk in the shared pool.
    const wanted: AgentVmSpec = {
      ...base,
      cpus: 2,
      memoryMiB: 384,
      hardware: { ...base.hardware!, disks: [{ name: 'disk1', sizeGiB: 1, slot: 0 }] },
    };
    const applied = await call<AgentHardwareReply>('a', 'PUT', `/v1/vms/${VM}/hardware`, wanted);
    expect(applied.status).toBe(200);
    expect(applied.body).toMatchObject({
      live: true,
      hardware: { hotCpus: 1, dimmsMiB: [128], disks: [{ name: 'disk1' }] },
    });
    // Refused live, nothing changed: beyond the headroom.
    const beyond = await call<ErrorBody>('a', 'PUT', `/v1/vms/${VM}/hardware`, {
      ...wanted,
      cpus: 3,
      hardware: applied.body.hardware,
    });
    expect(beyond.status).toBe(409);
    expect(beyond.body.error.code).toBe('HOTPLUG_NOT_SUPPORTED');
    await waitFor(
      'vdb and cpu1 in the guest on a',
      async () => {
        const blocks = await guestValue('a', 'BLK', 'ls /sys/block | tr "\\n" " "');
        const present = await guestValue('a', 'CPUS', 'cat /sys/devices/system/cpu/present');
        return blocks.includes('vdb') && present === '0-1' ? true : undefined;
      },
      60_000,
      500,
    );

    // The server sends the target the spec as applied (what the store recorded).
    const moved: AgentVmSpec = { ...wanted, hardware: applied.body.hardware };
    const incoming = await call<AgentIncomingReply>(
      'b',
      'POST',
      `/v1/vms/${VM}/migration/incoming`,
      {
        spec: moved,
        settings,
      },
    );
    expect(incoming.status).toBe(200);
    const target = (await call<AgentVmStatus>('b', 'GET', `/v1/vms/${VM}`)).body;
    const args = await processArguments(target.pid ?? 0);
    expect(args).toEqual(
      expect.arrayContaining([
        '1,sockets=2,cores=1,threads=1,maxcpus=2',
        '256M,slots=8,maxmem=512M',
        'qemu64-x86_64-cpu,id=cpu1,socket-id=1,core-id=0,thread-id=0',
        'pc-dimm,id=dimm0,memdev=mem-dimm0',
        'virtio-blk-pci,id=disk1-dev,drive=disk1,bus=hotplug0',
      ]),
    );
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
    const source = await waitFor(
      'the migration to end',
      async () => {
        const status = (await call<AgentMigrationStatus>('a', 'GET', `/v1/vms/${VM}/migration`))
          .body;
        return status.status === 'completed' || status.status === 'failed' ? status : undefined;
      },
      120_000,
      100,
    );
    expect(source).toMatchObject({ status: 'completed' });
    await waitFor(
      'the guest to run on b',
      async () =>
        (await call<AgentVmStatus>('b', 'GET', `/v1/vms/${VM}`)).body.state === 'running'
          ? true
          : undefined,
      30_000,
      100,
    );
    await call('a', 'POST', `/v1/vms/${VM}/migration/complete`);

    // On b the guest still has both CPUs, the DIMM's memory and its data disk.
    expect(await guestValue('b', 'CPUS', 'cat /sys/devices/system/cpu/present')).toBe('0-1');
    expect(await guestValue('b', 'BLK', 'ls /sys/block | tr "\\n" " "')).toContain('vdb');
    const memAfter = Number(
      await guestValue('b', 'MEM', "grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2"),
    );
    expect(memAfter).toBeGreaterThan(memBefore + 100 * 1024);
    console.info(`hotplug migration: MemTotal ${memBefore} KiB on a before, ${memAfter} on b`);

    // And it can still grow there: the data disk, live.
    const grown = await call<AgentHardwareReply>('b', 'PUT', `/v1/vms/${VM}/hardware`, {
      ...moved,
      hardware: { ...moved.hardware!, disks: [{ name: 'disk1', sizeGiB: 2, slot: 0 }] },
    });
    expect(grown.body).toMatchObject({ live: true, hardware: { disks: [{ sizeGiB: 2 }] } });
    expect(await guestValue('b', 'SECT', 'cat /sys/block/vdb/size')).toBe('4194304');
    const shrink = await call<ErrorBody>('b', 'PUT', `/v1/vms/${VM}/hardware`, {
      ...moved,
      hardware: { ...grown.body.hardware, disks: [{ name: 'disk1', sizeGiB: 1, slot: 0 }] },
    });
    expect(shrink.status).toBe(409);
    expect(shrink.body.error.code).toBe('DISK_SHRINK_REFUSED');
  }, 600_000);
});
