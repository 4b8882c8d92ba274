import { readFile } from 'node:fs/promises';

const KiB = 1024;

/**
 * How much of the guest's RAM the QEMU process holds resident, from /proc/<pid>/smaps: the guest
 * RAM is one anonymous mapping of exactly the VM's memory size, and pages the guest never touched
 * are not resident (they migrate as zero pages for almost nothing). Undefined when unreadable or
 * when no mapping has that size.
 */
export async function guestRamResidentBytes(
  pid: number,
  memoryMiB: number,
): Promise<number | undefined> {
  let smaps: string;
  try {
    smaps = await readFile(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return undefined;
  }
  return residentOfMapping(smaps, memoryMiB * KiB);
}

/** The Rss (bytes) of the largest-resident mapping whose Size is `sizeKiB`. */
export function residentOfMapping(smaps: string, sizeKiB: number): number | undefined {
  let best: number | undefined;
  for (const block of smaps.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const size = Number(/^Size:\s+(\d+) kB/m.exec(block)?.[1]);
    const rss = Number(/^Rss:\s+(\d+) kB/m.exec(block)?.[1]);
    if (size === sizeKiB && Number.isFinite(rss) && (best === undefined || rss * KiB > best)) {
      best = rss * KiB;
    }
  }
  return best;
}
