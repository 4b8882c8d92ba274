import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ClusterCa, PkiError, type TlsIdentity, type ValidityOptions } from './certificates.js';

const CA_CERT = 'ca.crt';
const CA_KEY = 'ca.key';

/**
 * Writes a file so that a reader sees the old content or the new, never a part: a temporary file
 * in the same folder, flushed, then renamed over. Private keys pass mode 0o600.
 */
export async function writeFileAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  // The umask may have narrowed the mode; a key must end up exactly 0600 either way.
  await chmod(temporary, mode);
  await rename(temporary, path);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The cluster CA kept in `dir` (`ca.crt`, `ca.key` mode 0600), created on first call. A folder
 * holding only one of the two files is refused rather than overwritten: that would orphan every
 * certificate issued so far.
 */
export async function loadOrCreateCa(
  dir: string,
  options: ValidityOptions = {},
): Promise<{ ca: ClusterCa; created: boolean }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const [certPem, keyPem] = await Promise.all([
    readIfExists(join(dir, CA_CERT)),
    readIfExists(join(dir, CA_KEY)),
  ]);
  if (certPem !== undefined && keyPem !== undefined) {
    return { ca: await ClusterCa.fromPem(certPem, keyPem), created: false };
  }
  if (certPem !== undefined || keyPem !== undefined) {
    throw new PkiError(
      `the cluster CA in ${dir} is incomplete: ${certPem === undefined ? CA_CERT : CA_KEY} is missing`,
    );
  }
  const ca = await ClusterCa.create(options);
  // The key first: a certificate without its key is the state that is refused above.
  await writeFileAtomic(join(dir, CA_KEY), await ca.exportKeyPem(), 0o600);
  await writeFileAtomic(join(dir, CA_CERT), ca.certPem);
  return { ca, created: true };
}

/** The files one TLS identity is kept in: `<name>.key` (0600), `<name>.crt` and `ca.crt`. */
export function identityFiles(
  dir: string,
  name: string,
): { key: string; cert: string; ca: string } {
  return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.crt`), ca: join(dir, CA_CERT) };
}

export async function saveIdentity(
  dir: string,
  name: string,
  identity: TlsIdentity,
): Promise<void> {
  const files = identityFiles(dir, name);
  await writeFileAtomic(files.key, identity.key, 0o600);
  await writeFileAtomic(files.cert, identity.cert);
  await writeFileAtomic(files.ca, identity.ca);
}

/** Undefined when no identity of that name is kept in `dir`. */
export async function loadIdentity(dir: string, name: string): Promise<TlsIdentity | undefined> {
  const files = identityFiles(dir, name);
  const [key, cert, ca] = await Promise.all([
    readIfExists(files.key),
    readIfExists(files.cert),
    readIfExists(files.ca),
  ]);
  if (key === undefined || cert === undefined || ca === undefined) return undefined;
  return { key, cert, ca };
}
