import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from '@novacron/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConsoleLogKeeper,
  consoleLogBytes,
  previousConsoleLog,
  readConsoleLogTail,
  rotateConsoleLog,
} from './console-log.js';

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
const KEEP = 64 * 1024;

let dir: { path: string; remove(): Promise<void> };
let log: string;
/** Stands in for QEMU's chardev logfile: opened once with O_APPEND and written to throughout. */
let writer: FileHandle;

function lines(from: number, count: number): string {
  let text = '';
  for (let n = from; n < from + count; n++) text += `HEARTBEAT ${String(n).padStart(8, '0')}\n`;
  return text;
}

beforeEach(async () => {
  dir = await makeTempDir('nc-console-');
  log = join(dir.path, 'console.log');
  writer = await open(log, 'a');
});

afterEach(async () => {
  await writer.close();
  await dir.remove();
});

describe('console log rotation', () => {
  it('leaves a log under the bound alone', async () => {
    await writer.write(lines(0, 10));
    expect(await rotateConsoleLog(log, KEEP)).toBe(false);
    expect((await readFile(log, 'utf8')).split('\n')).toHaveLength(11);
  }, 10_000);

  it('keeps the last bytes, and the writer appends at the new end', async () => {
    const lineBytes = lines(0, 1).length;
    const total = Math.ceil((3 * KEEP) / lineBytes);
    await writer.write(lines(0, total));
    expect(await rotateConsoleLog(log, KEEP)).toBe(true);
    expect((await stat(log)).size).toBe(0);
    expect((await stat(previousConsoleLog(log))).size).toBe(KEEP);

    await writer.write(lines(total, 5));
    // No hole of zeros: O_APPEND put the write at offset 0 of the truncated file.
    expect((await stat(log)).size).toBe(5 * lineBytes);
    const tail = (await readConsoleLogTail(log, KEEP)).toString('utf8');
    expect(tail.length).toBe(KEEP);
    expect(tail.endsWith(lines(total - 3, 8))).toBe(true);
  }, 10_000);

  it('stays bounded however much is written, across many rotations', async () => {
    let n = 0;
    for (let round = 0; round < 20; round++) {
      await writer.write(lines(n, 3000));
      n += 3000;
      await rotateConsoleLog(log, KEEP);
      expect(await consoleLogBytes(log)).toBeLessThanOrEqual(2 * KEEP);
    }
    const tail = (await readConsoleLogTail(log, 4096)).toString('utf8');
    expect(tail.endsWith(lines(n - 10, 10))).toBe(true);
  }, 20_000);

  it('reads an empty tail when there is no log yet', async () => {
    expect((await readConsoleLogTail(join(dir.path, 'none.log'), KEEP)).length).toBe(0);
    expect(await rotateConsoleLog(join(dir.path, 'none.log'), KEEP)).toBe(false);
  });

  it('the keeper trims on each pass while the writer goes on', async () => {
    const keeper = new ConsoleLogKeeper({
      logs: () => Promise.resolve([log]),
      intervalMs: 20,
      keepBytes: KEEP,
      logger: silent,
    });
    keeper.start();
    try {
      let n = 0;
      const until = Date.now() + 500;
      while (Date.now() < until) {
        await writer.write(lines(n, 500));
        n += 500;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await keeper.stop();
      await keeper.trimAll();
      expect(await consoleLogBytes(log)).toBeLessThanOrEqual(2 * KEEP);
      expect((await readConsoleLogTail(log, 200)).toString('utf8').endsWith(lines(n - 1, 1))).toBe(
        true,
      );
    } finally {
      await keeper.stop();
    }
  }, 10_000);
});
