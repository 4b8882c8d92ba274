import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { selectAccelerator } from './accelerator.js';
import { qemuVersion } from './qemu-version.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'accel-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const noProbe = () => Promise.reject(new Error('the probe must not run'));

describe('selectAccelerator', () => {
  it('obeys a forced mode without probing', async () => {
    const cacheFile = join(dir, 'accel.json');
    await expect(
      selectAccelerator({ mode: 'tcg', cacheFile, probeImage: noProbe }),
    ).resolves.toEqual({
      accelerator: 'tcg',
      reason: 'forced by the accel=tcg setting',
    });
    await expect(
      selectAccelerator({ mode: 'kvm', cacheFile, probeImage: noProbe }),
    ).resolves.toMatchObject({
      accelerator: 'kvm',
    });
  });

  it('falls back to TCG without a probe when the KVM device does not exist', async () => {
    const kvmDevice = join(dir, 'kvm');
    const verdict = await selectAccelerator({
      mode: 'auto',
      cacheFile: join(dir, 'accel.json'),
      kvmDevice,
      probeImage: noProbe,
    });
    expect(verdict).toEqual({ accelerator: 'tcg', reason: `${kvmDevice} does not exist` });
  });

  it('reuses the cached verdict for the same QEMU version and kernel release', async () => {
    const kvmDevice = join(dir, 'kvm');
    await writeFile(kvmDevice, '');
    const cacheFile = join(dir, 'accel.json');
    const key = `qemu ${(await qemuVersion()).version} / kernel ${release()}`;
    await writeFile(
      cacheFile,
      JSON.stringify({
        key,
        accelerator: 'tcg',
        reason: 'KVM probe failed: KVM internal error',
        probedAt: 'then',
      }),
    );
    const verdict = await selectAccelerator({
      mode: 'auto',
      cacheFile,
      kvmDevice,
      probeImage: noProbe,
    });
    expect(verdict.accelerator).toBe('tcg');
    expect(verdict.reason).toContain('KVM internal error');
  });

  it('probes again, and caches, when the host kernel changed', async () => {
    const kvmDevice = join(dir, 'kvm');
    await writeFile(kvmDevice, '');
    const cacheFile = join(dir, 'accel.json');
    await writeFile(cacheFile, JSON.stringify({ key: 'old', accelerator: 'kvm', reason: 'old' }));
    // A probe that cannot boot anything: the verdict is TCG with QEMU's complaint, and is cached.
    const verdict = await selectAccelerator({
      mode: 'auto',
      cacheFile,
      kvmDevice,
      kernelRelease: 'test-release',
      deadlineMs: 5_000,
      probeImage: () =>
        Promise.resolve({
          kernelPath: join(dir, 'absent-kernel'),
          initrdPath: join(dir, 'absent-initrd'),
        }),
    });
    expect(verdict.accelerator).toBe('tcg');
    expect(verdict.reason).toMatch(/^KVM probe failed: /);
    const again = await selectAccelerator({
      mode: 'auto',
      cacheFile,
      kvmDevice,
      kernelRelease: 'test-release',
      probeImage: noProbe,
    });
    expect(again.reason).toContain(verdict.reason);
  });
});
