import { describe, expect, it } from 'vitest';
import { parseSizeGiB, parseSizeMiB } from './sizes.js';
import { isValidName } from './names.js';

describe('sizes', () => {
  it('reads binary suffixes into MiB', () => {
    expect(parseSizeMiB('256M')).toBe(256);
    expect(parseSizeMiB('2G')).toBe(2048);
    expect(parseSizeMiB('1.5G')).toBe(1536);
    expect(parseSizeMiB('512')).toBe(512);
    expect(parseSizeGiB('2G')).toBe(2);
    expect(parseSizeGiB('10')).toBe(10);
  });

  it('refuses nonsense with INVALID_SIZE', () => {
    for (const bad of ['', 'abc', '12X', '-1G', '0.3M', '1;rm']) {
      expect(() => parseSizeMiB(bad)).toThrow(expect.objectContaining({ code: 'INVALID_SIZE' }));
    }
    expect(() => parseSizeGiB('1500M')).toThrow(expect.objectContaining({ code: 'INVALID_SIZE' }));
  });
});

describe('names', () => {
  it('accepts DNS labels and refuses shell and path characters', () => {
    expect(isValidName('demo')).toBe(true);
    expect(isValidName('web-01')).toBe(true);
    for (const bad of [
      '',
      'Demo',
      '-a',
      'a-',
      'a/b',
      '../x',
      'a;b',
      'a b',
      '$(id)',
      'x'.repeat(64),
    ]) {
      expect(isValidName(bad)).toBe(false);
    }
  });
});
