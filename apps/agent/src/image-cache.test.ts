import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { AgentVmSpec } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageCache } from './image-cache.js';

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
const files: Record<string, Buffer> = {
  vmlinuz: Buffer.from('kernel bytes '.repeat(1000)),
  'initrd.img': Buffer.from('initrd bytes '.repeat(2000)),
};
const sha256 = createHash('sha256')
  .update(files.vmlinuz ?? '')
  .update(files['initrd.img'] ?? '')
  .digest('hex');

function image(sha = sha256): AgentVmSpec['image'] {
  return { id: 'img1', name: 'tiny', kind: 'kernel', sha256: sha, defaultKernelArgs: '' };
}

let dir: string;
let fetched: string[];
const fetch = (id: string, file: string) => {
  fetched.push(`${id}/${file}`);
  return Promise.resolve(Readable.from([files[file] ?? Buffer.alloc(0)]));
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nc-images-'));
  fetched = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('image cache', () => {
  it('pulls an image once, checks its SHA-256 and keeps it by content', async () => {
    const cache = new ImageCache({ dir, fetch, logger: silent });
    const [a, b] = await Promise.all([cache.ensure(image()), cache.ensure(image())]);
    expect(a).toBe(join(dir, 'img1', sha256));
    expect(b).toBe(a);
    expect(fetched).toEqual(['img1/vmlinuz', 'img1/initrd.img']);
    expect(await readFile(join(a, 'initrd.img'))).toEqual(files['initrd.img']);
    expect(await cache.ensure(image())).toBe(a);
    expect(fetched).toHaveLength(2);
    // A later agent finds it without a server.
    expect(await new ImageCache({ dir, logger: silent }).ensure(image())).toBe(a);
  });

  it('refuses what does not match the SHA-256 and leaves nothing behind', async () => {
    const cache = new ImageCache({ dir, fetch, logger: silent });
    const error = await cache.ensure(image('0'.repeat(64))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('IMAGE_CORRUPT');
    expect(await readdir(join(dir, 'img1'))).toEqual([]);
  });

  it('says an image is missing when there is no server to pull from', async () => {
    const cache = new ImageCache({ dir, logger: silent });
    await expect(cache.ensure(image())).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    await expect(cache.ensure(image(''))).rejects.toMatchObject({ code: 'IMAGE_NOT_READY' });
    await expect(cache.ensure({ ...image(), id: '../x' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });
});
