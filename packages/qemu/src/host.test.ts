import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkHostPrerequisites } from './prerequisites.js';
import { isQemuOfVm } from './process.js';
import { LAUNCH_HEADER_PREFIX, readQemuFailure } from './qemu-log.js';
import { parseQemuVersion } from './qemu-version.js';
import { vmStateOfRunState } from './run-state.js';
import { assertSocketPathsFit, vmFiles } from './vm-files.js';

describe('host prerequisites', () => {
  it('names what is missing with its Debian package and the install command', async () => {
    const result = await checkHostPrerequisites([
      { binary: 'qemu-img', debianPackage: 'qemu-utils' },
      { binary: 'novacron-absent-tool', debianPackage: 'novacron-absent' },
      { binary: 'novacron-absent-tool2', debianPackage: 'genisoimage' },
    ]);
    expect(result.ok).toBe(false);
    expect(result.missing.map((item) => item.binary)).toEqual([
      'novacron-absent-tool',
      'novacron-absent-tool2',
    ]);
    expect(result.installCommand).toBe('apt-get install -y genisoimage novacron-absent');
    expect(result.message).toContain('apt-get install -y genisoimage novacron-absent');
  });

  it('finds the real prerequisites on this host', async () => {
    const result = await checkHostPrerequisites();
    expect(result).toEqual({ ok: true, missing: [], installCommand: null, message: null });
  });
});

describe('QEMU process identity', () => {
  const pidFile = '/d/agent/vms/vm1/qemu.pid';
  it('accepts only the QEMU of this VM with this pidfile', () => {
    const args = [
      '/usr/bin/qemu-system-x86_64',
      '-name',
      'guest=vm1,debug-threads=on',
      '-pidfile',
      pidFile,
    ];
    expect(isQemuOfVm(args, 'vm1', pidFile)).toBe(true);
    expect(isQemuOfVm(args, 'vm', pidFile)).toBe(false);
    expect(isQemuOfVm(args, 'vm1', '/other/qemu.pid')).toBe(false);
    expect(
      isQemuOfVm(['/bin/sleep', '-name', 'guest=vm1', '-pidfile', pidFile], 'vm1', pidFile),
    ).toBe(false);
  });
});

describe('QEMU output', () => {
  it('reads the failure of the latest launch from qemu.log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qlog-'));
    try {
      const log = join(dir, 'qemu.log');
      await writeFile(
        log,
        [
          `${LAUNCH_HEADER_PREFIX} at yesterday`,
          'old failure',
          `${LAUNCH_HEADER_PREFIX} at today`,
          "2026-11-25T22:19:29.039358Z qemu-system-x86_64: -blockdev x: Could not open 'x': No such file",
          '',
        ].join('\n'),
      );
      expect(await readQemuFailure(log)).toBe(
        "qemu-system-x86_64: -blockdev x: Could not open 'x': No such file",
      );
      expect(await readQemuFailure(join(dir, 'absent.log'))).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses the version line', () => {
    expect(
      parseQemuVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright'),
    ).toEqual({ version: '7.2.22', package: 'Debian 1:7.2+dfsg-7+deb12u18+b3' });
    expect(parseQemuVersion('something else')).toBeNull();
  });

  it('maps QMP run states to VM states', () => {
    expect(vmStateOfRunState('running')).toEqual({ state: 'running', reason: null });
    expect(vmStateOfRunState('paused').state).toBe('paused');
    expect(vmStateOfRunState('inmigrate').state).toBe('starting');
    expect(vmStateOfRunState('internal-error')).toMatchObject({ state: 'error' });
  });

  it('refuses socket paths the kernel would truncate', () => {
    expect(() => assertSocketPathsFit(vmFiles(`/${'d'.repeat(100)}`))).toThrow(
      expect.objectContaining({ code: 'QEMU_FAILED' }),
    );
    expect(() => assertSocketPathsFit(vmFiles('/var/lib/novacron/agent/vms/abc'))).not.toThrow();
  });
});
