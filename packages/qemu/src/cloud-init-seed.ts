import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { AgentCloudInit } from '@novacron/api';
import { assertValidAgentCloudInit, DomainError } from '@novacron/domain';
import { runProgram } from './exec.js';

/** The volume label cloud-init's NoCloud datasource looks for. */
export const CLOUD_INIT_VOLUME_ID = 'cidata';

export interface CloudInitSeedFiles {
  'meta-data': string;
  'user-data': string;
  'network-config'?: string;
}

/**
 * The NoCloud files of a seed. meta-data is written as JSON (a subset of the YAML cloud-init
 * reads), so no value can break out of its field; user-data and network-config go as given,
 * after assertValidAgentCloudInit. Without user-data the guest gets an empty cloud-config.
 */
export function cloudInitSeedFiles(seed: AgentCloudInit): CloudInitSeedFiles {
  assertValidAgentCloudInit(seed);
  const metaData = {
    'instance-id': seed.instanceId,
    'local-hostname': seed.hostname,
    ...(seed.sshKeys.length > 0 && { 'public-keys': seed.sshKeys }),
  };
  return {
    'meta-data': `${JSON.stringify(metaData, null, 2)}\n`,
    'user-data': seed.userData ?? '#cloud-config\n',
    ...(seed.networkConfig !== undefined && { 'network-config': seed.networkConfig }),
  };
}

/**
 * Writes the seed ISO at `path` (`genisoimage -volid cidata`, Joliet + Rock Ridge), atomically:
 * built in a private folder beside it and renamed, so QEMU never opens half an ISO. File names
 * are fixed; only their content comes from the user, and it was checked.
 */
export async function writeCloudInitSeed(
  path: string,
  seed: AgentCloudInit,
  options: { binary?: string } = {},
): Promise<void> {
  if (!isAbsolute(path) || /[\0\n]/.test(path)) {
    throw new DomainError('VALIDATION_FAILED', `seed path must be absolute: ${path}`, { path });
  }
  const files = cloudInitSeedFiles(seed);
  await mkdir(dirname(path), { recursive: true });
  const work = await mkdtemp(join(dirname(path), '.seed-'));
  try {
    const names = Object.keys(files) as (keyof CloudInitSeedFiles)[];
    for (const name of names) await writeFile(join(work, name), files[name] ?? '', { mode: 0o600 });
    const iso = join(work, 'seed.iso');
    await runProgram(
      options.binary ?? 'genisoimage',
      [
        '-quiet',
        '-output',
        iso,
        '-volid',
        CLOUD_INIT_VOLUME_ID,
        '-joliet',
        '-rock',
        '-input-charset',
        'utf-8',
        ...names,
      ],
      { cwd: work, timeoutMs: 30_000, failureCode: 'QEMU_FAILED' },
    );
    await rename(iso, path);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
