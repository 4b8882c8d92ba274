import { open, rename, rm, stat } from 'node:fs/promises';
import { readFileTail } from '@novacron/qemu';
import type { AgentLogger } from './logger.js';

/** Serial output kept per VM (ISSUE 4): the last 1 MiB. */
export const CONSOLE_LOG_KEEP_BYTES = 1024 * 1024;

/** The previous generation of a console log, next to it. */
export function previousConsoleLog(consoleLog: string): string {
  return `${consoleLog}.1`;
}

/**
 * Bounds a console log that QEMU may be appending to (docs/adr/0012-console.md): once it holds
 * more than `keepBytes`, its last `keepBytes` become `<log>.1` and the log is truncated in place.
 * QEMU opens it with O_APPEND (`logappend=on`), so its next write lands at the new end.
 * Returns whether it rotated.
 */
export async function rotateConsoleLog(
  consoleLog: string,
  keepBytes = CONSOLE_LOG_KEEP_BYTES,
): Promise<boolean> {
  let handle;
  try {
    handle = await open(consoleLog, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size <= keepBytes) return false;
    const previous = previousConsoleLog(consoleLog);
    const staging = `${previous}.tmp`;
    // Read up to the end as it is now, then truncate at once: what QEMU writes in between (at
    // most a few bytes at serial speed) is the only loss, as with logrotate's copytruncate.
    const chunks: Buffer[] = [];
    let position = size - keepBytes;
    for (;;) {
      const chunk = Buffer.alloc(keepBytes);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      position += bytesRead;
    }
    await handle.truncate(0);
    const out = await open(staging, 'w');
    try {
      const all = Buffer.concat(chunks);
      await out.writeFile(all.subarray(Math.max(0, all.length - keepBytes)));
    } finally {
      await out.close();
    }
    await rename(staging, previous);
    return true;
  } finally {
    await handle.close();
  }
}

/** The last `maxBytes` of a VM's serial output, across the previous and the current log. */
export async function readConsoleLogTail(consoleLog: string, maxBytes: number): Promise<Buffer> {
  const current = await readFileTail(consoleLog, maxBytes);
  if (current.length >= maxBytes) return current;
  const before = await readFileTail(previousConsoleLog(consoleLog), maxBytes - current.length);
  return Buffer.concat([before, current]);
}

/** Removes both generations (a VM deleted, or a test cleaning up). */
export async function removeConsoleLogs(consoleLog: string): Promise<void> {
  await rm(consoleLog, { force: true });
  await rm(previousConsoleLog(consoleLog), { force: true });
}

export interface ConsoleLogKeeperOptions {
  /** The console logs to bound, read afresh on each pass (VMs come and go). */
  logs: () => Promise<string[]>;
  intervalMs?: number;
  keepBytes?: number;
  logger: AgentLogger;
}

/** Rotates every VM's console log now and then every `intervalMs` (default 5 s). */
export class ConsoleLogKeeper {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> = Promise.resolve();

  constructor(private readonly options: ConsoleLogKeeperOptions) {}

  /** One pass over every log; also the first one, at agent start. */
  async trimAll(): Promise<void> {
    const { logs, keepBytes, logger } = this.options;
    for (const log of await logs()) {
      try {
        await rotateConsoleLog(log, keepBytes);
      } catch (error) {
        logger.warn({ err: String(error), log }, 'console log rotation failed');
      }
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.pass = this.pass.then(() => this.trimAll()).catch(() => undefined);
    }, this.options.intervalMs ?? 5_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.pass;
  }
}

/** Size on disk of both generations, for tests and diagnostics. */
export async function consoleLogBytes(consoleLog: string): Promise<number> {
  let total = 0;
  for (const path of [consoleLog, previousConsoleLog(consoleLog)]) {
    total += await stat(path).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
}
