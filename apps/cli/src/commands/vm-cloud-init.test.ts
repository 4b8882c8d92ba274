import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudInitFromOptions } from './vm-cloud-init.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0Zm9vYmFy ops@example.com';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nc-cli-ci-'));
  await writeFile(join(dir, 'keys'), `# team\n${KEY}\n\nssh-rsa AAAAB3NzaC1yc2E= b@c\n`);
  await writeFile(join(dir, 'user-data'), '#cloud-config\nruncmd: [[echo, hi]]\n');
  await writeFile(join(dir, 'bad-user-data'), 'runcmd: [[echo, hi]]\n');
  await writeFile(join(dir, 'private'), '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n');
  await writeFile(join(dir, 'net'), 'version: 2\nethernets: {}\n');
  await writeFile(join(dir, 'huge'), `#cloud-config\n${'#'.repeat(70_000)}\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('vm create cloud-init options', () => {
  it('reads keys, user-data and network-config from files', async () => {
    expect(
      await cloudInitFromOptions({
        sshKey: [join(dir, 'keys')],
        userData: join(dir, 'user-data'),
        networkConfig: join(dir, 'net'),
        hostname: 'web-1',
      }),
    ).toEqual({
      sshKeys: [KEY, 'ssh-rsa AAAAB3NzaC1yc2E= b@c'],
      userData: '#cloud-config\nruncmd: [[echo, hi]]\n',
      networkConfig: 'version: 2\nethernets: {}\n',
      hostname: 'web-1',
    });
    expect(await cloudInitFromOptions({})).toBeUndefined();
  });

  it('refuses bad files before anything is sent, with exit code 2', async () => {
    const cases: [Parameters<typeof cloudInitFromOptions>[0], string][] = [
      [{ userData: join(dir, 'bad-user-data') }, 'CLOUD_INIT_INVALID'],
      [{ sshKey: [join(dir, 'private')] }, 'CLOUD_INIT_INVALID'],
      [{ userData: join(dir, 'huge') }, 'CLOUD_INIT_INVALID'],
      [{ userData: join(dir, 'missing') }, 'USAGE'],
      [{ hostname: 'no_underscores' }, 'CLOUD_INIT_INVALID'],
    ];
    for (const [options, code] of cases) {
      await expect(cloudInitFromOptions(options), JSON.stringify(options)).rejects.toMatchObject({
        code,
        exitCode: 2,
      });
    }
  });
});
