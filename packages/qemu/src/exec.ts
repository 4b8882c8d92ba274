import { execFile, type ExecFileException } from 'node:child_process';
import type { ErrorCode } from '@novacron/api';
import { DomainError } from '@novacron/domain';

export interface RunOptions {
  cwd?: string;
  timeoutMs?: number;
  /** Error code when the program runs and fails (default QEMU_FAILED). */
  failureCode?: ErrorCode;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a program with an argument array (never a shell). A missing program becomes
 * HOST_PREREQUISITE_MISSING; a non-zero exit becomes `failureCode` with the end of stderr.
 */
export function runProgram(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        if (error) reject(toDomainError(file, args, error, stderr, options));
        else resolve({ stdout, stderr });
      },
    );
  });
}

/** As runProgram, for programs whose output is binary (a decompressed file). */
export function runProgramForBytes(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 512 << 20,
        encoding: 'buffer',
      },
      (error, stdout, stderr) => {
        if (error) reject(toDomainError(file, args, error, stderr.toString('utf8'), options));
        else resolve(stdout);
      },
    );
  });
}

function toDomainError(
  file: string,
  args: readonly string[],
  error: ExecFileException,
  stderr: string,
  options: RunOptions,
): DomainError {
  if (error.code === 'ENOENT') {
    return new DomainError('HOST_PREREQUISITE_MISSING', `${file} is not installed (not on PATH)`, {
      program: file,
    });
  }
  const tail = stderr.trim().split('\n').slice(-5).join('\n');
  const how = error.killed
    ? `was stopped (${error.signal ?? 'timeout'})`
    : `exited with ${String(error.code)}`;
  return new DomainError(
    options.failureCode ?? 'QEMU_FAILED',
    `${file} ${args[0] ?? ''} ${how}${tail === '' ? '' : `: ${tail}`}`,
    { program: file, args: [...args], stderr: tail },
  );
}
