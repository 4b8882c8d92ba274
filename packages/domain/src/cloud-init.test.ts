import { describe, expect, it } from 'vitest';
import { assertValidCloudInit, cloudInitForVm, parseSshKeys } from './cloud-init.js';
import { DomainError } from './errors.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0Zm9vYmFy ops@example.com';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof DomainError ? `${error.code}:${String(error.details.field)}` : 'other';
  }
}

describe('cloud-init input', () => {
  it('accepts every user-data header cloud-init acts on', () => {
    for (const userData of [
      '#cloud-config\nruncmd: []\n',
      '#!/bin/sh\necho hi\n',
      '#include\nhttp://example.com/a\n',
      '#cloud-boothook\n#!/bin/sh\n',
      'Content-Type: multipart/mixed; boundary="x"\n\n--x--\n',
    ]) {
      expect(codeOf(() => assertValidCloudInit({ userData }))).toBeUndefined();
    }
  });

  it('refuses user-data cloud-init would ignore, binary data and oversize data', () => {
    expect(codeOf(() => assertValidCloudInit({ userData: 'runcmd: []\n' }))).toBe(
      'CLOUD_INIT_INVALID:userData',
    );
    expect(codeOf(() => assertValidCloudInit({ userData: '#cloud-config\n\u0000' }))).toBe(
      'CLOUD_INIT_INVALID:userData',
    );
    // 64 KiB of characters is within the schema's length but not in bytes once encoded.
    expect(
      codeOf(() => assertValidCloudInit({ userData: `#cloud-config\n#${'é'.repeat(40_000)}` })),
    ).toBe('CLOUD_INIT_INVALID:userData');
  });

  it('takes OpenSSH public keys only, one line each', () => {
    expect(codeOf(() => assertValidCloudInit({ sshKeys: [KEY] }))).toBeUndefined();
    expect(
      codeOf(() => assertValidCloudInit({ sshKeys: ['ecdsa-sha2-nistp256 AAAAE2Vj'] })),
    ).toBeUndefined();
    expect(codeOf(() => assertValidCloudInit({ sshKeys: [KEY, 'hello world'] }))).toBe(
      'CLOUD_INIT_INVALID:sshKeys[1]',
    );
    expect(codeOf(() => assertValidCloudInit({ sshKeys: [`${KEY}\nssh-rsa AAAA`] }))).toBe(
      'CLOUD_INIT_INVALID:sshKeys[0]',
    );
    expect(
      codeOf(() => assertValidCloudInit({ sshKeys: ['-----BEGIN OPENSSH PRIVATE KEY-----'] })),
    ).toBe('CLOUD_INIT_INVALID:sshKeys[0]');
  });

  it('checks host names and the network-config version', () => {
    expect(codeOf(() => assertValidCloudInit({ hostname: 'web-1.example.com' }))).toBeUndefined();
    expect(codeOf(() => assertValidCloudInit({ hostname: 'bad_name' }))).toBe(
      'CLOUD_INIT_INVALID:hostname',
    );
    expect(
      codeOf(() =>
        assertValidCloudInit({ networkConfig: 'network:\n  version: 2\n  ethernets: {}\n' }),
      ),
    ).toBeUndefined();
    expect(
      codeOf(() => assertValidCloudInit({ networkConfig: '{"version": 1, "config": []}' })),
    ).toBeUndefined();
    expect(codeOf(() => assertValidCloudInit({ networkConfig: '{"version": 3}' }))).toBe(
      'CLOUD_INIT_INVALID:networkConfig',
    );
    expect(codeOf(() => assertValidCloudInit({ networkConfig: 'ethernets: {}\n' }))).toBe(
      'CLOUD_INIT_INVALID:networkConfig',
    );
  });

  it('gives a VM a seed with its own instance id, its name as host name by default', () => {
    expect(cloudInitForVm({ sshKeys: [KEY] }, { id: 'vm_abc', name: 'web-1' })).toEqual({
      instanceId: 'iid-vm_abc',
      hostname: 'web-1',
      sshKeys: [KEY],
    });
    expect(
      cloudInitForVm({ hostname: 'db', userData: '#!/bin/sh\n' }, { id: 'v2', name: 'x' }),
    ).toEqual({ instanceId: 'iid-v2', hostname: 'db', sshKeys: [], userData: '#!/bin/sh\n' });
  });

  it('reads an authorized_keys file', () => {
    expect(parseSshKeys(`# mine\n${KEY}\r\n\n  ssh-rsa AAAAB3 b@c  \n`)).toEqual([
      KEY,
      'ssh-rsa AAAAB3 b@c',
    ]);
  });
});
