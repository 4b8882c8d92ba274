import { open, readFile } from 'node:fs/promises';

const KiB = 1024;
const PAGE = 4096;
/** Pages read to estimate how much of the guest's RAM holds data (about 8 MiB read at most). */
const SAMPLES = 2048;

/**
 * How much of the guest's RAM holds data, estimated by reading `SAMPLES` pages spread evenly over
 * the RAM mapping of the QEMU process through /proc/<pid>/mem: zero pages (never touched, or
 * cleared) go out as a 9-byte record and cost a migration almost nothing, so this, not the memory
 * size, is what the first pass sends. The guest RAM is the one anonymous mapping of exactly the
 * VM's memory size. Reading an untouched page maps the shared zero page and allocates nothing.
 * Undefined when the mapping cannot be found or read.
 */
export async function guestRamDataBytes(
  pid: number,
  memoryMiB: number,
): Promise<number | undefined> {
  const sizeBytes = memoryMiB * KiB * KiB;
  let start: number | undefined;
  try {
    start = mappingStart(await readFile(`/proc/${pid}/maps`, 'utf8'), sizeBytes);
  } catch {
    return undefined;
  }
  if (start === undefined) return undefined;
  const pages = sizeBytes / PAGE;
  const step = Math.max(1, Math.floor(pages / SAMPLES));
  const buffer = Buffer.alloc(PAGE);
  let sampled = 0;
  let holdingData = 0;
  let file;
  try {
    file = await open(`/proc/${pid}/mem`, 'r');
    for (let page = 0; page < pages; page += step) {
      const { bytesRead } = await file.read(buffer, 0, PAGE, start + page * PAGE);
      if (bytesRead !== PAGE) return undefined;
      sampled += 1;
      if (!isZero(buffer)) holdingData += 1;
    }
  } catch {
    return undefined;
  } finally {
    await file?.close();
  }
  return Math.round((holdingData / sampled) * sizeBytes);
}

/**
 * Start address of the mapping of exactly `sizeBytes` (the first one; QEMU has one such). User
 * addresses on x86-64 stay below 2^47, well inside a double's exact integers.
 */
export function mappingStart(maps: string, sizeBytes: number): number | undefined {
  for (const line of maps.split('\n')) {
    const match = /^([0-9a-f]+)-([0-9a-f]+) rw/.exec(line);
    if (!match) continue;
    const from = Number.parseInt(match[1] ?? '', 16);
    if (Number.parseInt(match[2] ?? '', 16) - from === sizeBytes) return from;
  }
  return undefined;
}

function isZero(page: Buffer): boolean {
  for (let i = 0; i < page.length; i += 8) {
    if (page.readBigUInt64LE(i) !== 0n) return false;
  }
  return true;
}
