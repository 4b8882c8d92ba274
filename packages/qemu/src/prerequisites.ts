import { execFile } from 'node:child_process';

/** Programs a host needs, with the Debian package that provides each. */
export const HOST_PREREQUISITES = [
  { binary: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86' },
  { binary: 'qemu-img', debianPackage: 'qemu-utils' },
  { binary: 'genisoimage', debianPackage: 'genisoimage' },
] as const;

export interface MissingPrerequisite {
  binary: string;
  debianPackage: string;
}

export interface HostPrerequisites {
  ok: boolean;
  missing: MissingPrerequisite[];
  /** `apt-get install -y <packages>` for what is missing; null when nothing is. */
  installCommand: string | null;
  /** One line for a person: what is missing and how to install it. */
  message: string | null;
}

/**
 * Which host programs are missing. Each is run with `--version` (so PATH is resolved the way it
 * will be when used, without reading the environment here); only "not found" counts as missing.
 */
export async function checkHostPrerequisites(
  prerequisites: readonly MissingPrerequisite[] = HOST_PREREQUISITES,
): Promise<HostPrerequisites> {
  const missing: MissingPrerequisite[] = [];
  for (const prerequisite of prerequisites) {
    if (!(await isInstalled(prerequisite.binary))) missing.push({ ...prerequisite });
  }
  if (missing.length === 0) return { ok: true, missing, installCommand: null, message: null };
  const packages = [...new Set(missing.map((item) => item.debianPackage))].sort();
  const installCommand = `apt-get install -y ${packages.join(' ')}`;
  return {
    ok: false,
    missing,
    installCommand,
    message: `missing host programs: ${missing.map((item) => item.binary).join(', ')}; install them with: ${installCommand}`,
  };
}

function isInstalled(binary: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], { timeout: 10_000 }, (error) => {
      resolve(!(error && (error as NodeJS.ErrnoException).code === 'ENOENT'));
    });
  });
}
