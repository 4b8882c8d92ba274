import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Operation } from '@novacron/api';
import { loadConfig } from '@novacron/config';
import type { NovaCronClient } from '@novacron/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliDeps } from './context.js';
import { run } from './main.js';
import { startEmbeddedTestbed, type EmbeddedTestbed } from './testing.js';

// `vm delete --keep-disks` on a real VM: the disk, with what was written to it, survives the VM
// in the agent's kept-disks folder, and the operation says where.

const exec = promisify(execFile);

let testbed: EmbeddedTestbed | undefined;
let client: NovaCronClient;

beforeAll(async () => {
  testbed = await startEmbeddedTestbed();
  client = testbed.client;
}, 180_000);

afterAll(async () => {
  await testbed?.close();
}, 60_000);

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Writes (or checks, with `read`) 64 KiB of `pattern` at offset 1 MiB of a qcow2 image. */
async function qemuIo(mode: 'write' | 'read', path: string, pattern: number): Promise<string> {
  const { stdout } = await exec('qemu-io', [
    '-f',
    'qcow2',
    '-c',
    `${mode} -P ${pattern} 1M 64k`,
    path,
  ]);
  return stdout;
}

async function novacron(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    createClient: () => client,
    loadConfig: () =>
      loadConfig({ NOVACRON_SERVER_URL: testbed!.embedded.server.url, NOVACRON_TOKEN: 't' }),
    credentials: {
      get: () => Promise.resolve(undefined),
      save: () => Promise.resolve(),
      remove: () => Promise.resolve(false),
    },
    readPassword: () => Promise.resolve(''),
  };
  const code = await run(['node', 'novacron', ...args], deps);
  return { code, stdout, stderr };
}

describe('vm delete --keep-disks', () => {
  it('moves the disk of a running VM to kept-disks/<name>-<id>/ with its data, and says where', async () => {
    const create = await client.vms.create({ name: 'keeper', image: 'tiny', memoryMiB: 128 });
    expect(await client.operations.wait(create.id, 120)).toMatchObject({ status: 'succeeded' });
    const vm = await client.vms.get('keeper');
    const folder = join(testbed!.dataDir, 'agent', 'vms', vm.id);
    const disk = join(folder, 'disk.qcow2');

    // Data on the disk: written while the VM is off, then the VM runs again on it.
    const stop = await client.vms.action('keeper', { action: 'stop', force: true });
    expect(await client.operations.wait(stop.id, 60)).toMatchObject({ status: 'succeeded' });
    await qemuIo('write', disk, 0x5a);
    const start = await client.vms.action('keeper', { action: 'start' });
    expect(await client.operations.wait(start.id, 120)).toMatchObject({ status: 'succeeded' });
    expect((await client.vms.get('keeper')).state).toBe('running');

    const remove = await client.vms.delete('keeper', { force: true, keepDisks: true });
    const done: Operation = await client.operations.wait(remove.id, 60);
    const kept = join(testbed!.dataDir, 'agent', 'kept-disks', `keeper-${vm.id}`, 'disk.qcow2');
    expect(done).toMatchObject({
      status: 'succeeded',
      result: { vm: vm.id, host: vm.host, keptDisks: [{ path: kept, backingFile: null }] },
    });
    await expect(client.vms.get('keeper')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    expect(await exists(folder)).toBe(false);
    expect(await qemuIo('read', kept, 0x5a)).toMatch(/read 65536\/65536 bytes/);
    // A pattern that is not there fails the check: the read above compared the bytes.
    const mismatch = await qemuIo('read', kept, 0x11).catch(
      (error: { stdout?: string; stderr?: string }) => `${error.stdout}${error.stderr}`,
    );
    expect(mismatch).toMatch(/Pattern verification failed/);
  }, 300_000);

  it('novacron vm delete --keep-disks --wait prints where the disk is; without it the disk goes', async () => {
    for (const name of ['cli-keep', 'cli-drop']) {
      const create = await client.vms.create({ name, image: 'tiny', memoryMiB: 128, start: false });
      expect(await client.operations.wait(create.id, 120)).toMatchObject({ status: 'succeeded' });
    }
    const keep = await client.vms.get('cli-keep');
    const drop = await client.vms.get('cli-drop');

    const kept = await novacron(['vm', 'delete', 'cli-keep', '--keep-disks', '--wait']);
    expect(kept.code, kept.stderr).toBe(0);
    const path = join(testbed!.dataDir, 'agent', 'kept-disks', `cli-keep-${keep.id}`, 'disk.qcow2');
    expect(kept.stdout).toBe(`vm cli-keep deleted\ndisk kept at ${path} on host ${keep.host}\n`);
    expect(await exists(path)).toBe(true);

    const dropped = await novacron(['vm', 'delete', 'cli-drop', '--wait']);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stdout).toBe('vm cli-drop deleted\n');
    expect(await exists(join(testbed!.dataDir, 'agent', 'kept-disks', `cli-drop-${drop.id}`))).toBe(
      false,
    );
    expect(await exists(join(testbed!.dataDir, 'agent', 'vms', drop.id))).toBe(false);
  }, 300_000);
});
