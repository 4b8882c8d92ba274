import { execFile } from 'node:child_process';
import { readlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, pidsMatching } from '@novacron/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { HostNetwork, stopHostNetwork, type HostNetworkOptions } from './host-network.js';
import { tapNameOf } from './names.js';

// The host side of the VM network with the real tools (ip, dnsmasq, iptables); needs root.
// Guests on it are tested in apps/cli/src/vm-network.int.test.ts.

const run = promisify(execFile);
const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
// A bridge and subnet of this run only, in the machine's own namespace.
const n = 20 + (process.pid % 200);
const BRIDGE = `ncnh${n}`;
const SUBNET = `10.80.${n}.0/24`;

const dirs: { path: string; remove(): Promise<void> }[] = [];

afterAll(async () => {
  for (const pid of await pidsMatching(`--interface=${BRIDGE}`)) process.kill(pid, 'SIGKILL');
  await run('ip', ['link', 'del', 'dev', BRIDGE]).catch(() => undefined);
  for (const dir of dirs) await dir.remove();
});

async function options(nat = false): Promise<HostNetworkOptions> {
  const dir = await makeTempDir();
  dirs.push(dir);
  return { bridge: BRIDGE, subnet: SUBNET, nat, dir: dir.path, logger: silent };
}

async function natRulePresent(): Promise<boolean> {
  const rule = [
    '-s',
    SUBNET,
    '!',
    '-d',
    SUBNET,
    '-m',
    'comment',
    '--comment',
    `novacron ${BRIDGE}`,
  ];
  return run('iptables', ['-w', '-t', 'nat', '-C', 'POSTROUTING', ...rule, '-j', 'MASQUERADE'])
    .then(() => true)
    .catch(() => false);
}

describe('HostNetwork', () => {
  it('keeps one dnsmasq per bridge: re-adopted, shared with another agent, restarted on new settings', async () => {
    const first = await options();
    const a = await HostNetwork.setUp(first);
    const { stdout } = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', BRIDGE]);
    expect(stdout).toContain(` 10.80.${n}.1/24 `);
    expect(a.info).toEqual({
      enabled: true,
      bridge: BRIDGE,
      address: `10.80.${n}.1/24`,
      nat: false,
    });
    const pid = a.dhcpServerPid;
    expect(pid).not.toBeNull();
    expect(await pidsMatching(`--interface=${BRIDGE}`)).toEqual([pid]);

    // The agent restarts: same settings, same dnsmasq.
    expect((await HostNetwork.setUp(first)).dhcpServerPid).toBe(pid);
    // Another agent in the same namespace uses it rather than start a second one.
    expect((await HostNetwork.setUp(await options())).dhcpServerPid).toBe(pid);

    // NAT on: masquerading rule in place, dnsmasq restarted (it now serves DNS too).
    const withNat = await HostNetwork.setUp({ ...first, nat: true });
    expect(withNat.dhcpServerPid).not.toBe(pid);
    expect(await pidsMatching(`--interface=${BRIDGE}`)).toEqual([withNat.dhcpServerPid]);
    expect(await natRulePresent()).toBe(true);
    await HostNetwork.setUp(first);
    expect(await natRulePresent()).toBe(false);

    await stopHostNetwork(first.dir, [], silent);
    expect(await pidsMatching(`--interface=${BRIDGE}`)).toEqual([]);
  });

  it('starts one dnsmasq when two agents of a namespace start at the same moment', async () => {
    const [one, two] = await Promise.all([options(), options()]);
    const [a, b] = await Promise.all([HostNetwork.setUp(one), HostNetwork.setUp(two)]);
    expect(a.dhcpServerPid).toBe(b.dhcpServerPid);
    expect(await pidsMatching(`--interface=${BRIDGE}`)).toEqual([a.dhcpServerPid]);
  });

  it('prepares a tap on the bridge for a VM and removes it again', async () => {
    const network = await HostNetwork.setUp(await options());
    const nic = await network.prepareNic({ id: 'net-test-vm' });
    expect(nic).toEqual({
      tap: tapNameOf('net-test-vm'),
      mac: expect.stringMatching(/^52:54:00:/) as string,
    });
    expect(basename(await readlink(`/sys/class/net/${nic.tap}/master`))).toBe(BRIDGE);
    // Idempotent: a tap left behind is reused.
    expect(await network.prepareNic({ id: 'net-test-vm' })).toEqual(nic);
    expect(await network.nicCounters('net-test-vm')).toMatchObject({
      rxBytes: expect.any(Number) as number,
    });
    await network.releaseNic('net-test-vm');
    await expect(readlink(`/sys/class/net/${nic.tap}`)).rejects.toThrow();
    expect(await network.nicCounters('net-test-vm')).toBeUndefined();
  });
});
