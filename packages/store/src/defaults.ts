import { randomBytes } from 'node:crypto';
import type { Clock, IdSource } from '@novacron/domain';

export const systemClock: Clock = { now: () => new Date() };

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** 16 characters of lowercase base32 (80 random bits): safe in paths, names and URLs. */
export const randomId: IdSource = () => {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let id = '';
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff; // at most 12 bits are pending
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      id += BASE32.charAt((value >>> bits) & 31);
    }
  }
  return id;
};
