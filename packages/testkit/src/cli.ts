import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { waitFor } from './processes.js';

/** A TCP port free at the time of asking, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === 'object' && address !== null ? address.port : 0),
      );
    });
  });
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A long-running command (e.g. `novacron up`) with its stderr collected as it comes. */
export interface RunningCommand {
  process: ChildProcess;
  stderr: string;
}

/** Runs a Node.js command line program as a user would, each call its own process. */
export class CommandRunner {
  constructor(
    readonly script: string,
    public env: Record<string, string>,
  ) {}

  run(args: string[], input = ''): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [this.script, ...args], {
        env: this.env,
        stdio: 'pipe',
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  /** Runs and answers stdout; throws with stderr when the command fails. */
  async ok(args: string[], input?: string): Promise<string> {
    const result = await this.run(args, input);
    if (result.code !== 0) {
      throw new Error(`${args.join(' ')} failed (${String(result.code)}): ${result.stderr}`);
    }
    return result.stdout;
  }

  start(args: string[]): RunningCommand {
    const child = spawn(process.execPath, [this.script, ...args], {
      env: this.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const running: RunningCommand = { process: child, stderr: '' };
    child.stderr?.on('data', (chunk: Buffer) => (running.stderr += chunk.toString()));
    return running;
  }
}

/** Waits until a running command has printed `marker` on stderr; fails early if it exits. */
export async function waitForOutput(
  running: RunningCommand,
  marker: string,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    `'${marker}' on stderr`,
    () => {
      if (running.stderr.includes(marker)) return true;
      if (running.process.exitCode !== null) {
        throw new Error(
          `exited (${running.process.exitCode}) before '${marker}': ${running.stderr}`,
        );
      }
      return undefined;
    },
    timeoutMs,
  );
}

/** Sends `signal` and waits for the exit. */
export async function stopCommand(running: RunningCommand, signal: NodeJS.Signals): Promise<void> {
  const child = running.process;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}
