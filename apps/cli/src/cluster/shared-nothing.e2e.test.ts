import { execFile } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MigrationPlan, Operation } from '@novacron/api';
import { NovaCronClient, type ConsoleSocketConstructor } from '@novacron/client';
import { pidsMatching, waitFor, type CommandRunner } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  heartbeatAfter as heartbeatAfterOf,
  lastHeartbeat as lastHeartbeatOf,
  operationOf,
  qemuOf,
  startClusterTestbed,
  vmOf,
  type ClusterTestbed,
} from './testing.js';

// Shared-nothing live migration on `novacron up --hosts 2`: a tiny guest whose disk is in its
// host's local pool keeps writing to that disk while it moves to the other namespace; the guest
// itself then checks its disk against its own copy of what it wrote. Then a paused guest moves and
// stays paused, and a target whose pool fills up during the mirror leaves the guest where it was.
const PREFIX = 'ncn';
const SUBNET = '10.199.50.0/24';
const PASSWORD = 'shared-nothing-e2e';
const Socket = WebSocket as unknown as ConsoleSocketConstructor;
const run = promisify(execFile);
/** The guest writes 64 KiB blocks at these many offsets of its disk (16 MiB), round and round. */
const BLOCKS = 256;

let testbed: ClusterTestbed;
let cli: CommandRunner;
let client: NovaCronClient;
let tag = 0;

const vm = (name: string) => vmOf(cli, name);
const lastHeartbeat = (name: string) => lastHeartbeatOf(cli, name);
const heartbeatAfter = (name: string, previous: number) => heartbeatAfterOf(cli, name, previous);
const vmsDir = (host: string) => join(testbed.path, 'data', 'hosts', host, 'agent', 'vms');

beforeAll(async () => {
  testbed = await startClusterTestbed({
    hosts: 2,
    prefix: PREFIX,
    subnet: SUBNET,
    password: PASSWORD,
  });
  cli = testbed.cli;
  const baseUrl = `http://127.0.0.1:${cli.env.NOVACRON_API_PORT}`;
  const login = await new NovaCronClient({ baseUrl }).login('admin', PASSWORD);
  client = new NovaCronClient({ baseUrl, token: login.accessToken });
  await cli.ok([
    'vm',
    'create',
    'sn',
    '--image',
    'tiny',
    '--host',
    'host1',
    '--pool',
    'local',
    '--wait',
  ]);
  await heartbeatAfter('sn', 0);
}, 300_000);

afterAll(async () => {
  await inAgentMounts('host2', ['umount', vmsDir('host2')]).catch(() => undefined);
  await testbed?.close();
}, 120_000);

/**
 * Runs a command in the mount namespace of a host's agent (`ip netns exec` gave it its own, and
 * this machine's root mount is private: a mount made outside would not show there).
 */
async function inAgentMounts(host: string, command: string[]): Promise<string> {
  const dir = join(testbed.path, 'data', 'hosts', host);
  const [pid] = await pidsMatching(`--data-dir\0${dir}\0`);
  if (pid === undefined) throw new Error(`no agent of ${host}`);
  const { stdout } = await run('nsenter', ['-t', String(pid), '-m', ...command]);
  return stdout;
}

/** Types `command` on the guest's serial console and answers what it printed until it ended. */
async function shell(name: string, command: string): Promise<string> {
  tag += 2;
  const mark = tag;
  let received = '';
  const stream = client.console(name, {
    WebSocket: Socket,
    onData: (bytes) => {
      received += Buffer.from(bytes).toString('utf8');
    },
  });
  try {
    // Input sent before the stream is attached would be lost: wait for the guest's output.
    await waitFor(
      'the console stream',
      () => Promise.resolve(received ? true : undefined),
      30_000,
      50,
    );
    // The echo of the line differs from the answer: $((...)) is only expanded by the shell.
    stream.send(`${command} && echo CMD-OK-$((${mark}+1)) || echo CMD-FAILED-$((${mark}+1))\n`);
    const outcome = await waitFor(
      `the outcome of '${command}' on ${name}`,
      () => Promise.resolve(new RegExp(`CMD-(OK|FAILED)-${mark + 1}\\b`).exec(received)?.[1]),
      120_000,
      100,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; the console showed:\n${received}`);
    });
    if (outcome !== 'OK') throw new Error(`'${command}' failed on ${name}:\n${received}`);
    return received;
  } finally {
    stream.close();
    await stream.done.catch(() => undefined);
  }
}

/** Random 64 KiB blocks round the disk's first 16 MiB, each also kept in guest RAM (/tmp). */
function startWriter(name: string): Promise<string> {
  return shell(
    name,
    `rm -f /tmp/stop && dd if=/dev/zero of=/tmp/copy bs=64k count=${BLOCKS} 2>/dev/null && ` +
      `( i=0; while [ ! -e /tmp/stop ]; do o=$((i % ${BLOCKS})); ` +
      `dd if=/dev/urandom of=/tmp/b bs=64k count=1 2>/dev/null; ` +
      `dd if=/tmp/b of=/dev/vda bs=64k seek=$o count=1 conv=notrunc,fsync 2>/dev/null; ` +
      `dd if=/tmp/b of=/tmp/copy bs=64k seek=$o count=1 conv=notrunc 2>/dev/null; ` +
      `i=$((i+1)); done ) > /dev/null 2>&1 & true`,
  );
}

/** Stops the writer; answers the md5 of the disk's first 16 MiB and of the guest's own copy. */
async function stopWriterAndSum(name: string): Promise<{ disk: string; copy: string }> {
  await shell(name, 'touch /tmp/stop && sleep 2');
  const out = await shell(
    name,
    `sync && echo 3 > /proc/sys/vm/drop_caches && ` +
      `echo DISK-$(dd if=/dev/vda bs=64k count=${BLOCKS} 2>/dev/null | md5sum | cut -c1-32) ` +
      `COPY-$(md5sum < /tmp/copy | cut -c1-32)`,
  );
  const match = /DISK-([0-9a-f]{32}) COPY-([0-9a-f]{32})/.exec(out);
  if (!match) throw new Error(`no checksums in:\n${out}`);
  return { disk: match[1] ?? '', copy: match[2] ?? '' };
}

async function migrate(name: string, args: string[]): Promise<Operation> {
  const answer = await cli.run(['vm', 'migrate', name, ...args, '--wait', '-o', 'json']);
  expect(answer.code, `${answer.stderr}\n${answer.stdout}`).toBe(0);
  return JSON.parse(answer.stdout) as Operation;
}

describe('shared-nothing migration on two hosts', () => {
  it('moves a guest that keeps writing to its local disk; the disk arrives identical', async () => {
    const { id } = await vm('sn');
    await startWriter('sn');
    // The plan sizes what the guest wrote into its overlay (it grows as the writer goes on).
    const plan = await waitFor(
      'the plan to count the written blocks',
      async () => {
        const read = JSON.parse(
          await cli.ok(['vm', 'migrate', 'sn', '--to', 'host2', '--plan', '-o', 'json']),
        ) as MigrationPlan;
        return (read.disk?.allocatedBytes ?? 0) > 1024 * 1024 ? read : undefined;
      },
      120_000,
      1000,
    );
    expect(plan.chosen).not.toBe('postcopy');
    const text = await cli.ok(['vm', 'migrate', 'sn', '--to', 'host2', '--plan']);
    expect(text).toContain('disk phase first');

    const beat = await lastHeartbeat('sn');
    const operation = await migrate('sn', ['--to', 'host2']);
    const result = operation.result as { disk?: { mirroredBytes: number }; downtimeMs: number };
    expect(result.disk?.mirroredBytes).toBeGreaterThan(0);
    expect(await vm('sn')).toMatchObject({ state: 'running', host: 'host2' });
    expect((await qemuOf(id)).namespace).toBe(`${PREFIX}-host2`);
    // The same guest goes on, and the source's copy of the disk went with its folder.
    const next = await heartbeatAfter('sn', beat.n);
    expect(next.uptime).toBeGreaterThan(beat.uptime);
    expect(await readdir(vmsDir('host1'))).not.toContain(id);
    expect(await readdir(join(vmsDir('host2'), id))).toContain('disk.qcow2');

    const sums = await stopWriterAndSum('sn');
    expect(sums.disk).toBe(sums.copy);
    console.info(
      `shared-nothing e2e: mirrored ${result.disk?.mirroredBytes} bytes, downtime ${result.downtimeMs} ms; guest disk md5 ${sums.disk} = its copy`,
    );
  });

  it('moves a paused guest, which stays paused on the target', async () => {
    const { id } = await vm('sn');
    await cli.ok(['vm', 'pause', 'sn', '--wait']);
    expect((await vm('sn')).state).toBe('paused');
    await migrate('sn', ['--to', 'host1']);
    expect(await vm('sn')).toMatchObject({ state: 'paused', host: 'host1' });
    expect((await qemuOf(id)).namespace).toBe(`${PREFIX}-host1`);
    // Paused, the guest printed nothing on host1 yet; resumed, it goes on where it was.
    await cli.ok(['vm', 'resume', 'sn', '--wait']);
    await heartbeatAfter('sn', 0);
    const output = await cli.ok(['vm', 'console', 'sn', '--output']);
    expect(output).not.toContain('NOVACRON-GUEST-READY');
    expect(output).not.toMatch(/^HEARTBEAT 1 /m);
  });

  it('rolls back when the target pool fills up during the mirror: the guest stays on its host', async () => {
    const { id } = await vm('sn');
    // host2's local pool becomes a 4 MiB file system; the guest's disk holds 16 MiB of data.
    await mkdir(vmsDir('host2'), { recursive: true });
    await inAgentMounts('host2', [
      'mount',
      '-t',
      'tmpfs',
      '-o',
      'size=4m',
      'tmpfs',
      vmsDir('host2'),
    ]);
    try {
      await startWriter('sn');
      const beat = await lastHeartbeat('sn');
      const answer = await cli.run([
        'vm',
        'migrate',
        'sn',
        '--to',
        'host2',
        '--wait',
        '-o',
        'json',
      ]);
      expect(answer.code).not.toBe(0);
      const listed = JSON.parse(await cli.ok(['operation', 'list', '-o', 'json'])) as
        Operation[] | { items: Operation[] };
      const failed = (Array.isArray(listed) ? listed : listed.items).find(
        (o) => o.kind === 'vm.migrate' && o.target.id === id && o.status === 'failed',
      );
      expect(failed).toBeDefined();
      const operation = await operationOf(cli, failed?.id ?? '');
      expect(operation.error?.code).toBe('MIGRATION_FAILED');
      expect(operation.error?.message).toMatch(/mirror/);
      console.info(`shared-nothing e2e: disk full on the target: ${operation.error?.message}`);

      // Exactly one QEMU, in host1's namespace; the store agrees; the guest goes on.
      expect(await vm('sn')).toMatchObject({ state: 'running', host: 'host1' });
      expect((await qemuOf(id)).namespace).toBe(`${PREFIX}-host1`);
      await heartbeatAfter('sn', beat.n);
      // The target's half-filled disk is gone with its folder (as the agent sees its pool).
      expect(await inAgentMounts('host2', ['ls', '-A', vmsDir('host2')])).not.toContain(id);
      await shell('sn', 'touch /tmp/stop');
    } finally {
      await inAgentMounts('host2', ['umount', vmsDir('host2')]);
    }
  });

  it('moves a stopped VM cold: its disk is copied, and the guest finds it intact', async () => {
    const { id } = await vm('sn');
    const before = await shell(
      'sn',
      `sync && echo SUM-$(dd if=/dev/vda bs=64k count=${BLOCKS} 2>/dev/null | md5sum | cut -c1-32)`,
    );
    const sum = /SUM-([0-9a-f]{32})/.exec(before)?.[1];
    expect(sum).toBeDefined();
    await cli.ok(['vm', 'stop', 'sn', '--force', '--wait']);
    const operation = await migrate('sn', ['--to', 'host2']);
    const result = operation.result as { cold?: boolean; disk?: { allocatedBytes: number } };
    expect(result.cold).toBe(true);
    expect(result.disk?.allocatedBytes).toBeGreaterThan(0);
    expect(await vm('sn')).toMatchObject({ state: 'stopped', host: 'host2' });
    expect(await readdir(vmsDir('host1'))).not.toContain(id);

    await cli.ok(['vm', 'start', 'sn', '--wait']);
    expect((await qemuOf(id)).namespace).toBe(`${PREFIX}-host2`);
    await waitFor(
      'the guest to boot on host2',
      async () => (await lastHeartbeat('sn').catch(() => undefined)) ?? undefined,
      120_000,
      500,
    );
    const after = await shell(
      'sn',
      `echo SUM-$(dd if=/dev/vda bs=64k count=${BLOCKS} 2>/dev/null | md5sum | cut -c1-32)`,
    );
    expect(/SUM-([0-9a-f]{32})/.exec(after)?.[1]).toBe(sum);
    console.info(`shared-nothing e2e: cold move of ${result.disk?.allocatedBytes} allocated bytes`);
  });

  it('moves a stopped VM on the shared pool by its record alone', async () => {
    await cli.ok(['vm', 'create', 'sh', '--image', 'tiny', '--host', 'host1', '--wait']);
    const { id } = await vm('sh');
    await cli.ok(['vm', 'stop', 'sh', '--force', '--wait']);
    const operation = await migrate('sh', ['--to', 'host2']);
    expect(operation.result).toMatchObject({ cold: true, from: 'host1', to: 'host2' });
    expect(await vm('sh')).toMatchObject({ state: 'stopped', host: 'host2' });
    await cli.ok(['vm', 'start', 'sh', '--wait']);
    expect((await qemuOf(id)).namespace).toBe(`${PREFIX}-host2`);
  });
});
