import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * Kept between test runs, outside the checkout so that a fresh clone (CI) reuses it: downloaded
 * Debian packages, the tiny image and the Debian cloud-init image, each rebuilt when its recipe
 * changes. `NOVACRON_TEST_CACHE_DIR` moves it.
 */
export const testCacheDir =
  process.env.NOVACRON_TEST_CACHE_DIR ?? join(homedir(), '.cache', 'novacron-test');

/** A fresh temporary folder with a short path (unix socket paths are limited to 108 bytes). */
export async function makeTempDir(
  prefix = 'nc-',
): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
