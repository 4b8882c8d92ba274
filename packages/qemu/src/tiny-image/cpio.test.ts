import { describe, expect, it } from 'vitest';
import { CpioArchive } from './cpio.js';

interface Parsed {
  name: string;
  mode: number;
  rdevMajor: number;
  rdevMinor: number;
  data: string;
}

/** A reader of the newc format, independent of the writer, to check what it wrote. */
function parse(buffer: Buffer): Parsed[] {
  const entries: Parsed[] = [];
  let offset = 0;
  const align = (value: number) => (value + 3) & ~3;
  for (;;) {
    expect(buffer.toString('ascii', offset, offset + 6)).toBe('070701');
    const field = (index: number) =>
      parseInt(buffer.toString('ascii', offset + 6 + index * 8, offset + 14 + index * 8), 16);
    const [mode, size, rdevMajor, rdevMinor, nameSize] = [1, 6, 9, 10, 11].map(field) as [
      number,
      number,
      number,
      number,
      number,
    ];
    const name = buffer.toString('utf8', offset + 110, offset + 110 + nameSize - 1);
    const dataStart = align(offset + 110 + nameSize);
    const data = buffer.toString('utf8', dataStart, dataStart + size);
    offset = align(dataStart + size);
    if (name === 'TRAILER!!!') break;
    entries.push({ name, mode, rdevMajor, rdevMinor, data });
  }
  expect(offset).toBe(buffer.length);
  return entries;
}

describe('CpioArchive', () => {
  it('writes newc entries the kernel can unpack, parents first', () => {
    const archive = new CpioArchive()
      .addFile('/init', '#!/bin/sh\n', 0o755)
      .addSymlink('bin/sh', '/bin/busybox')
      .addCharDevice('dev/console', 5, 1);
    const entries = parse(archive.toBuffer());
    expect(entries.map((entry) => entry.name)).toEqual([
      'init',
      'bin',
      'bin/sh',
      'dev',
      'dev/console',
    ]);
    expect(entries[0]).toMatchObject({ mode: 0o100755, data: '#!/bin/sh\n' });
    expect(entries[1]?.mode).toBe(0o040755);
    expect(entries[2]).toMatchObject({ mode: 0o120777, data: '/bin/busybox' });
    expect(entries[4]).toMatchObject({ mode: 0o020600, rdevMajor: 5, rdevMinor: 1 });
  });

  it('gives the same bytes for the same inputs', () => {
    const build = () => new CpioArchive().addFile('a/b', 'x').addDirectory('c').toBuffer();
    expect(build().equals(build())).toBe(true);
  });

  it('refuses duplicates and names that climb out', () => {
    expect(() => new CpioArchive().addFile('a', 'x').addFile('a', 'y')).toThrow(/duplicate/);
    expect(() => new CpioArchive().addFile('../a', 'x')).toThrow(/bad cpio name/);
    expect(() => new CpioArchive().addDirectory('d').addDirectory('d')).not.toThrow();
  });
});
