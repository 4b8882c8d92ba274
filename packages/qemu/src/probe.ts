import { spawn } from 'node:child_process';
import type { Accelerator } from '@novacron/api';
import { DEFAULT_CPU_MODEL } from './command-line.js';
import { GUEST_READY_MARKER } from './tiny-image/init-script.js';

export type KvmProbeResult = { ok: true; elapsedMs: number } | { ok: false; reason: string };

export interface ProbeGuestOptions {
  kernelPath: string;
  initrdPath: string;
  defaultKernelArgs?: string;
  accelerator: Accelerator;
  deadlineMs: number;
  qemuBinary?: string;
  /** Printed on the guest's serial port when it is up (default NOVACRON-GUEST-READY). */
  marker?: string;
}

/**
 * Boots a probe guest and waits for its marker on the serial port. Under nested paravirtual KVM
 * QEMU starts and the firmware runs, but a Linux kernel crawls and dies ("KVM internal error"),
 * so only a kernel reaching userspace in time proves the accelerator works. QEMU is always
 * killed before this returns.
 */
export function probeGuestBoot(options: ProbeGuestOptions): Promise<KvmProbeResult> {
  const marker = options.marker ?? GUEST_READY_MARKER;
  const append = [options.defaultKernelArgs ?? '', 'console=ttyS0 panic=-1'].join(' ').trim();
  const args = [
    '-machine', 'q35',
    '-accel', options.accelerator,
    '-cpu', DEFAULT_CPU_MODEL[options.accelerator],
    '-m', '256M',
    '-smp', '1',
    '-nodefaults',
    '-nographic',
    '-no-user-config',
    '-no-reboot',
    '-serial', 'stdio',
    '-kernel', options.kernelPath,
    '-initrd', options.initrdPath,
    '-append', append,
  ]; // prettier-ignore
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(options.qemuBinary ?? 'qemu-system-x86_64', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let serial = '';
    let stderr = '';
    let settled = false;
    const finish = (result: KvmProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(result);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          reason: `the probe guest did not print its ready marker within ${Math.round(options.deadlineMs / 1000)} s`,
        }),
      options.deadlineMs,
    );
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      serial = (serial + chunk).slice(-4096);
      if (serial.includes(marker)) finish({ ok: true, elapsedMs: Date.now() - started });
    });
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4096);
      const internal = /KVM internal error[^\n]*/.exec(stderr);
      if (internal) finish({ ok: false, reason: internal[0].trim() });
    });
    child.once('error', (error) =>
      finish({ ok: false, reason: `cannot run QEMU: ${error.message}` }),
    );
    child.once('exit', (code, signal) => {
      const said = stderr.trim().split('\n').slice(-2).join(' | ').trim();
      const how = signal ? `was killed by ${signal}` : `exited with code ${String(code)}`;
      finish({ ok: false, reason: `QEMU ${how} before the marker${said ? `: ${said}` : ''}` });
    });
  });
}

/** The KVM probe: the tiny guest under `-accel kvm -cpu host,-arch-capabilities`. */
export function probeKvm(options: Omit<ProbeGuestOptions, 'accelerator'>): Promise<KvmProbeResult> {
  return probeGuestBoot({ ...options, accelerator: 'kvm' });
}
