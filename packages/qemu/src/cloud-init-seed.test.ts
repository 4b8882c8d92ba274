import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AgentCloudInit, AgentVmSpec } from '@novacron/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudInitSeedFiles, writeCloudInitSeed } from './cloud-init-seed.js';
import { buildQemuArgs } from './command-line.js';
import { vmFiles } from './vm-files.js';

const run = promisify(execFile);
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0Zm9vYmFy ops@example.com';
const seed: AgentCloudInit = {
  instanceId: 'iid-vm01',
  hostname: 'web-1',
  sshKeys: [KEY],
  userData: '#cloud-config\nruncmd:\n  - [sh, -c, "echo hi > /dev/ttyS0"]\n',
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nc-seed-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('cloud-init seed', () => {
  it('writes meta-data as JSON, so no value can leave its field', () => {
    const files = cloudInitSeedFiles({ ...seed, hostname: 'a', sshKeys: [`${KEY} "x": y`] });
    expect(JSON.parse(files['meta-data'])).toEqual({
      'instance-id': 'iid-vm01',
      'local-hostname': 'a',
      'public-keys': [`${KEY} "x": y`],
    });
    expect(files['user-data']).toBe(seed.userData);
    expect(files['network-config']).toBeUndefined();
    expect(cloudInitSeedFiles({ ...seed, userData: undefined })['user-data']).toBe(
      '#cloud-config\n',
    );
  });

  it('refuses a seed that did not pass the checks, before running anything', async () => {
    await expect(
      writeCloudInitSeed(join(dir, 'bad.iso'), { ...seed, userData: 'echo hi' }),
    ).rejects.toMatchObject({ code: 'CLOUD_INIT_INVALID' });
    await expect(writeCloudInitSeed('relative.iso', seed)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('makes an ISO labelled cidata holding the NoCloud files', async () => {
    const path = join(dir, 'seed.iso');
    await writeCloudInitSeed(path, {
      ...seed,
      networkConfig: 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n',
    });
    expect((await stat(path)).size).toBeGreaterThan(0);
    const { stdout: volume } = await run('isoinfo', ['-d', '-i', path]);
    expect(volume).toMatch(/Volume id: cidata/);
    const { stdout: listing } = await run('isoinfo', ['-R', '-f', '-i', path]);
    expect(listing.split('\n').filter(Boolean).sort()).toEqual([
      '/meta-data',
      '/network-config',
      '/user-data',
    ]);
    const { stdout: userData } = await run('isoinfo', ['-R', '-x', '/user-data', '-i', path]);
    expect(userData).toBe(seed.userData);
  });

  it('is attached read-only as a SCSI CD-ROM when the VM has one', () => {
    const spec: AgentVmSpec = {
      id: 'vm01',
      name: 'web-1',
      cpus: 1,
      memoryMiB: 256,
      diskGiB: 1,
      image: { id: 'deb', name: 'deb', kind: 'disk', sha256: 'x', defaultKernelArgs: '' },
      kernelArgs: '',
      machineType: 'pc-q35-7.2',
      desiredState: 'running',
    };
    const files = vmFiles('/data/vms/vm01');
    const plain = buildQemuArgs(spec, files, 'tcg');
    expect(plain.join(' ')).not.toMatch(/seed/);
    const args = buildQemuArgs(spec, { ...files, cloudInitSeed: '/data/vms/vm01/seed.iso' }, 'tcg');
    expect(args).toContain(
      'driver=file,node-name=seed-file,filename=/data/vms/vm01/seed.iso,read-only=on',
    );
    expect(args).toContain('scsi-cd,id=seed-dev,bus=seed-scsi.0,drive=seed');
  });
});
