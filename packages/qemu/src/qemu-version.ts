import { runProgram } from './exec.js';

export interface QemuVersionInfo {
  /** `7.2.22` */
  version: string;
  /** The distribution's package version, e.g. `Debian 1:7.2+dfsg-7+deb12u18+b3`; empty if none. */
  package: string;
}

/** Parses the first line of `qemu-system-x86_64 --version`. */
export function parseQemuVersion(output: string): QemuVersionInfo | null {
  const match = /QEMU emulator version (\d+\.\d+\.\d+)(?:\s*\(([^)]*)\))?/.exec(output);
  if (!match?.[1]) return null;
  return { version: match[1], package: match[2] ?? '' };
}

export async function qemuVersion(binary = 'qemu-system-x86_64'): Promise<QemuVersionInfo> {
  const { stdout } = await runProgram(binary, ['--version'], { timeoutMs: 10_000 });
  return (
    parseQemuVersion(stdout) ?? { version: stdout.split('\n')[0]?.trim() ?? 'unknown', package: '' }
  );
}
