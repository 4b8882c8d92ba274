import { describe, expect, it } from 'vitest';
import { cloudInitOf, EMPTY_CLOUD_INIT, sshKeysOf } from './cloud-init';

describe('cloud-init fields of the Create VM wizard', () => {
  it('reads one SSH key a line, without blank lines and comments', () => {
    expect(sshKeysOf('ssh-ed25519 AAAA a@b\n\n  # old key\nssh-rsa BBBB c@d  \n')).toEqual([
      'ssh-ed25519 AAAA a@b',
      'ssh-rsa BBBB c@d',
    ]);
  });

  it('sends nothing when nothing was typed, and only what was typed otherwise', () => {
    expect(cloudInitOf(EMPTY_CLOUD_INIT)).toEqual({});
    expect(cloudInitOf({ userData: '  \n', sshKeys: '# none\n', hostname: ' ' })).toEqual({});
    expect(
      cloudInitOf({ userData: '#cloud-config\n', sshKeys: 'ssh-ed25519 AAAA', hostname: ' web ' }),
    ).toEqual({
      cloudInit: { userData: '#cloud-config\n', sshKeys: ['ssh-ed25519 AAAA'], hostname: 'web' },
    });
  });
});
