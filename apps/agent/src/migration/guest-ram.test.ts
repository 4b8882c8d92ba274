import { describe, expect, it } from 'vitest';
import { mappingStart } from './guest-ram.js';

const MAPS = `55d0c0000000-55d0c0100000 r--p 00000000 08:01 123 /usr/bin/qemu-system-x86_64
7f92b3e00000-7f92c3e00000 rw-p 00000000 00:00 0
7f92cc000000-7f930bfff000 rwxp 00000000 00:00 0
`;

describe('the guest RAM mapping', () => {
  it('is the writable mapping as large as the guest memory', () => {
    expect(mappingStart(MAPS, 256 * 1024 * 1024)).toBe(0x7f92b3e00000);
  });

  it('is undefined when no mapping has that size', () => {
    expect(mappingStart(MAPS, 512 * 1024 * 1024)).toBeUndefined();
  });
});
