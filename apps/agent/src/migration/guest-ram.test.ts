import { describe, expect, it } from 'vitest';
import { residentOfMapping } from './guest-ram.js';

const SMAPS = `55d0c0000000-55d0c0100000 r--p 00000000 08:01 123 /usr/bin/qemu-system-x86_64
Size:               1024 kB
Rss:                 900 kB
7f92b3e00000-7f92c3e00000 rw-p 00000000 00:00 0
Size:             262144 kB
KernelPageSize:        4 kB
Rss:               94208 kB
Pss:               94208 kB
7f92cc000000-7f930bfff000 rwxp 00000000 00:00 0
Size:            1048572 kB
Rss:               47104 kB
`;

describe('guest RAM residency', () => {
  it('reads the Rss of the mapping as large as the guest memory', () => {
    expect(residentOfMapping(SMAPS, 256 * 1024)).toBe(94208 * 1024);
  });

  it('is undefined when no mapping has that size', () => {
    expect(residentOfMapping(SMAPS, 512 * 1024)).toBeUndefined();
  });
});
