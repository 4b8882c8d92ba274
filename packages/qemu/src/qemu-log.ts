import { readFileTail } from './file-tail.js';

/** Written to qemu.log before each launch, so a failure is read from this launch's lines only. */
export const LAUNCH_HEADER_PREFIX = '--- novacron: launching QEMU';

/**
 * Why QEMU failed, from the end of qemu.log: the last few lines QEMU wrote after the latest
 * launch header, without their timestamps. Null when QEMU said nothing.
 */
export async function readQemuFailure(qemuLog: string): Promise<string | null> {
  const text = (await readFileTail(qemuLog, 16 * 1024)).toString('utf8');
  const start = text.lastIndexOf(LAUNCH_HEADER_PREFIX);
  const lines = (start >= 0 ? text.slice(start) : text)
    .split('\n')
    .slice(start >= 0 ? 1 : 0)
    .map((line) => line.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z\s+/, '').trim())
    .filter((line) => line !== '');
  if (lines.length === 0) return null;
  return lines.slice(-3).join(' | ').slice(0, 600);
}
