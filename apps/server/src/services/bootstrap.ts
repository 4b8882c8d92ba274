import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Image } from '@novacron/api';
import { hashPassword, newPassword, newSigningSecret } from '@novacron/auth';
import { ensureTinyImage } from '@novacron/qemu';
import { DEFAULT_PROJECT, type Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';

export const ADMIN_USERNAME = 'admin';
export const ADMIN_PASSWORD_FILE = 'admin-password';
const SIGNING_SECRET_KEY = 'auth.signing-secret';

/** The token signing secret, created once and shared by every server of the cluster. */
export function ensureSigningSecret(store: Store): Promise<string> {
  return store.settings.setIfAbsent(SIGNING_SECRET_KEY, newSigningSecret());
}

/**
 * Creates the `admin` user on first start. Its password comes from NOVACRON_ADMIN_PASSWORD, else
 * it is generated, written (mode 0600) to the data directory and returned to be printed once.
 */
export async function ensureAdmin(
  store: Store,
  dataDir: string,
  configured: string | undefined,
): Promise<{ generatedPassword?: string }> {
  await store.projects.ensure(DEFAULT_PROJECT);
  if ((await store.users.count()) > 0) return {};
  const password = configured ?? newPassword();
  await store.users.create({
    username: ADMIN_USERNAME,
    passwordHash: await hashPassword(password),
    role: 'admin',
  });
  if (configured !== undefined) return {};
  const file = join(dataDir, ADMIN_PASSWORD_FILE);
  await writeFile(`${file}.tmp`, `${password}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return { generatedPassword: password };
}

export const TINY_IMAGE = 'tiny';

/**
 * Ensures the built-in `tiny` image: a kernel and busybox initramfs built from Debian packages,
 * cached in `cacheDir`, kept in the image store at `<imageDir>/<image id>/`.
 */
export async function ensureTinyImageRegistered(
  store: Store,
  imageDir: string,
  cacheDir: string,
  logger: Logger,
): Promise<Image> {
  let image = await store.images.get(DEFAULT_PROJECT, TINY_IMAGE);
  image ??= await store.images.create({
    name: TINY_IMAGE,
    project: DEFAULT_PROJECT,
    kind: 'kernel',
    status: 'importing',
    builtin: true,
    sizeBytes: 0,
    defaultKernelArgs: '',
    sha256: '',
  });
  const outDir = join(imageDir, image.id);
  const complete = existsSync(join(outDir, 'vmlinuz')) && existsSync(join(outDir, 'initrd.img'));
  if (image.status === 'ready' && complete) return image;

  logger.info({ image: TINY_IMAGE }, 'building the built-in tiny image from Debian packages');
  await mkdir(cacheDir, { recursive: true });
  try {
    const built = await ensureTinyImage({ cacheDir, outDir });
    const ready = await store.images.update(image.id, {
      status: 'ready',
      sizeBytes: built.sizeBytes,
      sha256: built.sha256,
      defaultKernelArgs: built.defaultKernelArgs,
    });
    if (ready === undefined) throw new Error(`image ${image.id} vanished while it was built`);
    return ready;
  } catch (error) {
    await rm(outDir, { recursive: true, force: true });
    await store.images.update(image.id, { status: 'failed' });
    throw error;
  }
}
