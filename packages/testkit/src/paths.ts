import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/** Kept between test runs (gitignored): downloaded Debian packages and the built tiny image. */
export const testCacheDir = join(repoRoot, '.cache');

/** A fresh temporary folder with a short path (unix socket paths are limited to 108 bytes). */
export async function makeTempDir(
  prefix = 'nc-',
): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
