import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DomainError } from '@novacron/domain';

const run = promisify(execFile);

/** A cluster on one machine: a bridge on the host and one network namespace per agent. */
export interface TestbedLayout {
  bridge: string;
  /** The bridge's own address, where the server listens for agents. */
  serverAddress: string;
  prefixLength: number;
  hosts: { name: string; namespace: string; address: string; hostVeth: string; nsVeth: string }[];
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Lays out `count` hosts on `subnet` (an IPv4 /24 or larger, e.g. `10.77.0.0/24`): the bridge takes
 * .1, host i takes .(10 + i). Names and interface names are derived, never taken from input
 * unchecked (interface names must stay under 16 bytes).
 */
export function planTestbed(subnet: string, count: number, prefix = 'nc'): TestbedLayout {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/(\d{1,2})$/.exec(subnet);
  const octets = match?.slice(1, 4).map(Number) ?? [];
  const prefixLength = Number(match?.[4]);
  if (!match || octets.some((o) => o > 255) || prefixLength < 16 || prefixLength > 24) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `subnet '${subnet}' must look like 10.77.0.0/24 (a /16 to /24)`,
    );
  }
  if (!Number.isInteger(count) || count < 1 || count > 200) {
    throw new DomainError('VALIDATION_FAILED', `host count ${count} must be between 1 and 200`);
  }
  if (!NAME.test(prefix) || prefix.length > 6) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `prefix '${prefix}' must be a short lower-case name`,
    );
  }
  const base = octets.join('.');
  return {
    bridge: `${prefix}br0`,
    serverAddress: `${base}.1`,
    prefixLength,
    hosts: Array.from({ length: count }, (_, index) => {
      const n = index + 1;
      return {
        name: `host${n}`,
        namespace: `${prefix}-host${n}`,
        address: `${base}.${10 + n}`,
        hostVeth: `${prefix}v${n}`,
        nsVeth: `${prefix}v${n}p`,
      };
    }),
  };
}

async function ip(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args, { timeout: 10_000 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? String(error);
    throw new DomainError('HOST_PREREQUISITE_MISSING', `ip ${args.join(' ')} failed: ${stderr}`);
  }
}

async function exists(args: string[]): Promise<boolean> {
  try {
    await run('ip', args, { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Creates what is missing of the layout; safe to run again over a half-made one. */
export async function createTestbed(layout: TestbedLayout): Promise<void> {
  if (!(await exists(['link', 'show', layout.bridge]))) {
    await ip(['link', 'add', layout.bridge, 'type', 'bridge']);
  }
  const cidr = `${layout.serverAddress}/${layout.prefixLength}`;
  if (!(await ip(['-o', 'addr', 'show', 'dev', layout.bridge])).includes(` ${cidr} `)) {
    await ip(['addr', 'add', cidr, 'dev', layout.bridge]);
  }
  await ip(['link', 'set', layout.bridge, 'up']);
  const namespaces = await ip(['netns', 'list']);
  for (const host of layout.hosts) {
    if (!new RegExp(`^${host.namespace}( |$)`, 'm').test(namespaces)) {
      await ip(['netns', 'add', host.namespace]);
    }
    if (!(await exists(['link', 'show', host.hostVeth]))) {
      await ip(['link', 'add', host.hostVeth, 'type', 'veth', 'peer', 'name', host.nsVeth]);
      await ip(['link', 'set', host.nsVeth, 'netns', host.namespace]);
    }
    await ip(['link', 'set', host.hostVeth, 'master', layout.bridge]);
    await ip(['link', 'set', host.hostVeth, 'up']);
    const inNs = (args: string[]) => ip(['-n', host.namespace, ...args]);
    const hostCidr = `${host.address}/${layout.prefixLength}`;
    if (!(await inNs(['-o', 'addr', 'show', 'dev', host.nsVeth])).includes(` ${hostCidr} `)) {
      await inNs(['addr', 'add', hostCidr, 'dev', host.nsVeth]);
    }
    await inNs(['link', 'set', host.nsVeth, 'up']);
    await inNs(['link', 'set', 'lo', 'up']);
  }
}

/** Removes the namespaces (which removes their veth ends) and the bridge; missing parts are fine. */
export async function destroyTestbed(layout: TestbedLayout): Promise<void> {
  for (const host of layout.hosts) {
    if (await exists(['link', 'show', host.hostVeth])) await ip(['link', 'del', host.hostVeth]);
    const namespaces = await ip(['netns', 'list']);
    if (new RegExp(`^${host.namespace}( |$)`, 'm').test(namespaces)) {
      await ip(['netns', 'del', host.namespace]);
    }
  }
  if (await exists(['link', 'show', layout.bridge])) await ip(['link', 'del', layout.bridge]);
}

/** The command prefix that runs a program inside a host's namespace. */
export function inNamespace(
  namespace: string,
  command: string,
  args: string[],
): [string, string[]] {
  return ['ip', ['netns', 'exec', namespace, command, ...args]];
}
