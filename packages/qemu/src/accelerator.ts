import { constants } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { dirname } from 'node:path';
import type { Accelerator } from '@novacron/api';
import { writeFileAtomic } from './atomic-write.js';
import { silentLogger, type QemuLogger } from './logger.js';
import { probeKvm } from './probe.js';
import { qemuVersion } from './qemu-version.js';

export interface AcceleratorVerdict {
  accelerator: Accelerator;
  reason: string;
}

export interface ProbeImage {
  kernelPath: string;
  initrdPath: string;
  defaultKernelArgs?: string;
}

export interface SelectAcceleratorOptions {
  /** `auto` probes; `kvm` and `tcg` force (no probe). */
  mode: 'auto' | 'kvm' | 'tcg';
  /** JSON file holding the last probe's verdict, keyed by QEMU version and kernel release. */
  cacheFile: string;
  /** How long the probe guest gets to print its marker (default 15 s). */
  deadlineMs?: number;
  /** The probe guest, asked for only when a probe really runs (it may have to be built). */
  probeImage?: () => Promise<ProbeImage>;
  kvmDevice?: string;
  qemuBinary?: string;
  /** Default: this machine's `uname -r`. */
  kernelRelease?: string;
  logger?: QemuLogger;
}

interface CachedVerdict extends AcceleratorVerdict {
  key: string;
  qemuVersion: string;
  kernelRelease: string;
  probedAt: string;
}

/**
 * Picks the accelerator: KVM only when a probe guest boots under it to its marker within the
 * deadline, TCG otherwise, with the reason. The probe's verdict is cached per QEMU version and
 * host kernel release; a missing /dev/kvm skips the probe (and is not cached, so loading the kvm
 * module later is noticed).
 */
export async function selectAccelerator(
  options: SelectAcceleratorOptions,
): Promise<AcceleratorVerdict> {
  if (options.mode === 'tcg')
    return { accelerator: 'tcg', reason: 'forced by the accel=tcg setting' };
  if (options.mode === 'kvm')
    return { accelerator: 'kvm', reason: 'forced by the accel=kvm setting' };

  const logger = options.logger ?? silentLogger;
  const device = options.kvmDevice ?? '/dev/kvm';
  try {
    await access(device, constants.R_OK | constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? `${device} does not exist`
        : `${device} is not usable (${code ?? 'error'})`;
    return { accelerator: 'tcg', reason };
  }

  const version = (await qemuVersion(options.qemuBinary)).version;
  const kernelRelease = options.kernelRelease ?? release();
  const key = `qemu ${version} / kernel ${kernelRelease}`;
  const cached = await readCache(options.cacheFile);
  if (cached?.key === key) {
    return {
      accelerator: cached.accelerator,
      reason: `${cached.reason} (probed ${cached.probedAt} with ${key})`,
    };
  }

  if (!options.probeImage) {
    return {
      accelerator: 'tcg',
      reason: `${device} exists but no probe guest is available to test it`,
    };
  }
  const deadlineMs = options.deadlineMs ?? 15_000;
  logger.info({ device, deadlineMs }, 'probing KVM with a test guest');
  let verdict: AcceleratorVerdict;
  try {
    const image = await options.probeImage();
    const result = await probeKvm({ ...image, deadlineMs, qemuBinary: options.qemuBinary });
    verdict = result.ok
      ? {
          accelerator: 'kvm',
          reason: `a KVM probe guest booted to its marker in ${(result.elapsedMs / 1000).toFixed(1)} s`,
        }
      : { accelerator: 'tcg', reason: `KVM probe failed: ${result.reason}` };
  } catch (error) {
    // Not a verdict on KVM: do not cache, try again next start.
    return { accelerator: 'tcg', reason: `KVM probe could not run: ${(error as Error).message}` };
  }
  const entry: CachedVerdict = {
    ...verdict,
    key,
    qemuVersion: version,
    kernelRelease,
    probedAt: new Date().toISOString(),
  };
  await mkdir(dirname(options.cacheFile), { recursive: true });
  await writeFileAtomic(options.cacheFile, `${JSON.stringify(entry, null, 2)}\n`);
  logger.info({ ...verdict }, 'accelerator chosen');
  return verdict;
}

async function readCache(path: string): Promise<CachedVerdict | null> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<CachedVerdict>;
    if (
      typeof value.key === 'string' &&
      (value.accelerator === 'kvm' || value.accelerator === 'tcg') &&
      typeof value.reason === 'string'
    ) {
      return value as CachedVerdict;
    }
  } catch {
    // absent or unreadable: probe again
  }
  return null;
}
