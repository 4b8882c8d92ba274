import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TlsIdentity } from '@novacron/auth';
import { writeFileAtomic } from '@novacron/qemu';

/**
 * Writes the folder QEMU's `tls-creds-x509` object reads, from the agent's cluster identity: the
 * same certificate serves as the target's server certificate and the source's client certificate
 * (it carries both extended key usages and the host's addresses). Keys mode 0600.
 */
export async function writeMigrationTlsDir(dir: string, tls: TlsIdentity): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, 'ca-cert.pem'), tls.ca);
  await writeFileAtomic(join(dir, 'server-cert.pem'), tls.cert);
  await writeFileAtomic(join(dir, 'server-key.pem'), tls.key, 0o600);
  await writeFileAtomic(join(dir, 'client-cert.pem'), tls.cert);
  await writeFileAtomic(join(dir, 'client-key.pem'), tls.key, 0o600);
}
