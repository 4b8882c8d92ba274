import { execFile } from 'node:child_process';
import { access, constants, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { basename, join } from 'node:path';
import type { AgentHostNetwork, AgentVmSpec, VmNicCounters } from '@novacron/api';
import type { Config } from '@novacron/config';
import { DomainError } from '@novacron/domain';
import type { QemuNic } from '@novacron/qemu';
import type { AgentLogger } from '../logger.js';
import { INTERFACE_NAME, macAddressOf, planSubnet, tapNameOf, type SubnetPlan } from './names.js';

/** What the VM manager needs of the host network: a NIC before QEMU starts, its removal after. */
export interface VmNetwork {
  /** Creates (or reuses) the VM's tap device on the bridge; QEMU opens it by name. */
  prepareNic(spec: Pick<AgentVmSpec, 'id'>): Promise<QemuNic>;
  /** Removes the VM's tap device once its QEMU is gone. Never throws. */
  releaseNic(vmId: string): Promise<void>;
}

export interface HostNetworkOptions {
  bridge: string;
  /** e.g. 10.78.0.0/24: the bridge takes .1, DHCP the rest. */
  subnet: string;
  nat: boolean;
  /** The agent's own folder for dnsmasq's pid, lease and log files. */
  dir: string;
  logger: AgentLogger;
}

const COMMAND_TIMEOUT_MS = 10_000;
const DNSMASQ_CANDIDATES = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'];
const LEASE_TIME = '1h';
const NO_NETWORK = 'the VM network is off (NOVACRON_VM_NETWORK=off)';

/**
 * The host's VM network, all of it inside the agent's network namespace: a Linux bridge with
 * the first address of the subnet, one dnsmasq serving DHCP on it (started detached so that it
 * outlives the agent, as QEMU does; adopted again on the next start), optional masquerading to
 * the outside, and one tap device per running VM.
 */
export class HostNetwork implements VmNetwork {
  private readonly plan: SubnetPlan;
  private readonly queues = new Map<string, Promise<unknown>>();
  private dnsmasqPid: number | null = null;

  private constructor(private readonly options: HostNetworkOptions) {
    this.plan = planSubnet(options.subnet);
  }

  /** Ensures bridge, address, DHCP and NAT rules; safe to call again over what exists. */
  static async setUp(options: HostNetworkOptions): Promise<HostNetwork> {
    if (!INTERFACE_NAME.test(options.bridge)) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `bridge name '${options.bridge}' is not a valid interface name (15 characters at most)`,
        { bridge: options.bridge },
      );
    }
    const network = new HostNetwork(options);
    await checkPrerequisites();
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    await network.ensureBridge();
    await network.ensureNat();
    await network.ensureDnsmasq();
    return network;
  }

  get info(): AgentHostNetwork {
    return {
      enabled: true,
      bridge: this.options.bridge,
      address: `${this.plan.hostAddress}/${this.plan.prefixLength}`,
      nat: this.options.nat,
    };
  }

  prepareNic(spec: Pick<AgentVmSpec, 'id'>): Promise<QemuNic> {
    const tap = tapNameOf(spec.id);
    const mac = macAddressOf(spec.id);
    return this.serial(tap, async () => {
      const { bridge } = this.options;
      if (!(await exists(`/sys/class/net/${bridge}/bridge`))) {
        throw new DomainError(
          'AGENT_ERROR',
          `the VM bridge ${bridge} is gone; restart the agent to create it again`,
          { bridge },
        );
      }
      if (!(await exists(`/sys/class/net/${tap}`))) {
        await ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      } else if (!(await exists(`/sys/class/net/${tap}/tun_flags`))) {
        throw new DomainError('AGENT_ERROR', `interface ${tap} exists and is not a tap device`, {
          tap,
        });
      }
      await ip(['link', 'set', 'dev', tap, 'master', bridge]);
      await ip(['link', 'set', 'dev', tap, 'up']);
      return { tap, mac };
    });
  }

  releaseNic(vmId: string): Promise<void> {
    const tap = tapNameOf(vmId);
    return this.serial(tap, async () => {
      try {
        if (await exists(`/sys/class/net/${tap}`)) await ip(['link', 'del', 'dev', tap]);
      } catch (error) {
        this.options.logger.warn({ vmId, tap, error: describe(error) }, 'cannot remove tap device');
      }
    });
  }

  /** The NIC counters of a VM, as its guest sees them; undefined when it has no tap. */
  async nicCounters(vmId: string): Promise<VmNicCounters | undefined> {
    const dir = `/sys/class/net/${tapNameOf(vmId)}/statistics`;
    const read = async (name: string) => Number((await readFile(join(dir, name), 'utf8')).trim());
    try {
      // The tap's receive side is what the guest sent.
      const [rxBytes, txBytes, rxPackets, txPackets] = await Promise.all([
        read('tx_bytes'),
        read('rx_bytes'),
        read('tx_packets'),
        read('rx_packets'),
      ]);
      const counters = { rxBytes, txBytes, rxPackets, txPackets };
      return Object.values(counters).every((n) => Number.isSafeInteger(n) && n >= 0)
        ? counters
        : undefined;
    } catch {
      return undefined;
    }
  }

  private async ensureBridge(): Promise<void> {
    const { bridge } = this.options;
    if (!(await exists(`/sys/class/net/${bridge}`))) {
      // Another agent of this namespace may create it at the same moment.
      await ip(['link', 'add', 'name', bridge, 'type', 'bridge']).catch(async (error: unknown) => {
        if (!(await exists(`/sys/class/net/${bridge}`))) throw error;
      });
    }
    if (!(await exists(`/sys/class/net/${bridge}/bridge`))) {
      throw new DomainError('AGENT_ERROR', `interface ${bridge} exists and is not a bridge`, {
        bridge,
      });
    }
    const cidr = `${this.plan.hostAddress}/${this.plan.prefixLength}`;
    if (!(await ip(['-o', '-4', 'addr', 'show', 'dev', bridge])).includes(` ${cidr} `)) {
      await ip(['addr', 'add', cidr, 'dev', bridge]);
    }
    await ip(['link', 'set', 'dev', bridge, 'up']);
  }

  /** Masquerading rules, tagged with a comment so that turning NAT off removes exactly them. */
  private async ensureNat(): Promise<void> {
    const { bridge, nat, logger } = this.options;
    const cidr = this.plan.cidr;
    const tag = ['-m', 'comment', '--comment', `novacron ${bridge}`];
    const rules: { table: string; chain: string; spec: string[] }[] = [
      {
        table: 'nat',
        chain: 'POSTROUTING',
        spec: ['-s', cidr, '!', '-d', cidr, ...tag, '-j', 'MASQUERADE'],
      },
      { table: 'filter', chain: 'FORWARD', spec: ['-i', bridge, ...tag, '-j', 'ACCEPT'] },
      {
        table: 'filter',
        chain: 'FORWARD',
        spec: [
          ...['-o', bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED'],
          ...[...tag, '-j', 'ACCEPT'],
        ],
      },
    ];
    const present = (rule: (typeof rules)[number]) =>
      run('iptables', ['-w', '-t', rule.table, '-C', rule.chain, ...rule.spec]).then(
        () => true,
        (error: unknown) => {
          if (error instanceof DomainError && error.code === 'HOST_PREREQUISITE_MISSING') {
            throw error;
          }
          return false;
        },
      );
    if (!nat) {
      // Without iptables there can be no rule of ours to remove.
      for (const rule of rules) {
        try {
          while (await present(rule)) {
            await run('iptables', ['-w', '-t', rule.table, '-D', rule.chain, ...rule.spec]);
          }
        } catch (error) {
          if (error instanceof DomainError && error.code === 'HOST_PREREQUISITE_MISSING') return;
          throw error;
        }
      }
      return;
    }
    await writeFile('/proc/sys/net/ipv4/ip_forward', '1\n');
    for (const rule of rules) {
      if (await present(rule)) continue;
      // FORWARD rules go first, ahead of a DROP policy's rules that others may have added.
      const verb = rule.chain === 'FORWARD' ? '-I' : '-A';
      await run('iptables', ['-w', '-t', rule.table, verb, rule.chain, ...rule.spec]);
    }
    logger.info({ bridge, subnet: cidr }, 'VM traffic to the outside is masqueraded (NAT on)');
  }

  /**
   * One dnsmasq per bridge: ours is re-adopted when it still runs with the same arguments,
   * restarted when they changed; a dnsmasq another agent of this namespace runs on the bridge
   * is left alone and serves our VMs too.
   */
  private async ensureDnsmasq(): Promise<void> {
    // Agents of one namespace that start together would otherwise both start a dnsmasq.
    const lock = await namespaceLock(`novacron-dhcp-${this.options.bridge}`);
    try {
      await this.ensureDnsmasqLocked();
    } finally {
      await new Promise((resolve) => lock.close(resolve));
    }
  }

  private async ensureDnsmasqLocked(): Promise<void> {
    const { dir, bridge, logger } = this.options;
    const binary = await dnsmasqBinary();
    const pidFile = join(dir, 'dnsmasq.pid');
    const args = this.dnsmasqArgs(pidFile);
    const ownPid = await readPid(pidFile);
    const own = ownPid === null ? null : await processArgs(ownPid);
    if (ownPid !== null && own && isDnsmasq(own) && own.includes(`--pid-file=${pidFile}`)) {
      if (sameArgs(own.slice(1), args) && (await sameNetns(ownPid))) {
        this.dnsmasqPid = ownPid;
        logger.info({ bridge, pid: ownPid }, 're-adopted the running dnsmasq of the VM bridge');
        return;
      }
      logger.info({ bridge, pid: ownPid }, 'dnsmasq settings changed; restarting it');
      await terminate(ownPid);
    }
    const other = await dnsmasqServing(bridge);
    if (other !== null) {
      this.dnsmasqPid = other;
      logger.warn(
        { bridge, pid: other },
        'another dnsmasq already serves DHCP on the VM bridge (another agent in this namespace?); using it',
      );
      return;
    }
    // dnsmasq forks and its first process exits once the daemon is ready (or failed to start).
    await run(binary, args);
    this.dnsmasqPid = await readPid(pidFile);
    logger.info(
      { bridge, pid: this.dnsmasqPid, range: `${this.plan.dhcpStart}-${this.plan.dhcpEnd}` },
      'dnsmasq serves DHCP on the VM bridge',
    );
  }

  private dnsmasqArgs(pidFile: string): string[] {
    const { dir, bridge, nat } = this.options;
    const plan = this.plan;
    return [
      '--conf-file=/dev/null',
      `--pid-file=${pidFile}`,
      `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
      `--log-facility=${join(dir, 'dnsmasq.log')}`,
      `--interface=${bridge}`,
      '--bind-interfaces',
      '--except-interface=lo',
      `--dhcp-range=${plan.dhcpStart},${plan.dhcpEnd},${plan.netmask},${LEASE_TIME}`,
      '--dhcp-authoritative',
      '--dhcp-no-override',
      // No 3 s ping before each offer: only this dnsmasq hands out addresses on this bridge, and
      // its lease file outlives restarts.
      '--no-ping',
      '--no-hosts',
      // DNS only forwards to the outside, so it runs only when the outside is reachable.
      ...(nat ? [] : ['--port=0']),
    ];
  }

  private async serial<T>(key: string, action: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(key) ?? Promise.resolve()).catch(() => undefined).then(action);
    this.queues.set(key, run);
    try {
      return await run;
    } finally {
      if (this.queues.get(key) === run) this.queues.delete(key);
    }
  }

  get dhcpServerPid(): number | null {
    return this.dnsmasqPid;
  }
}

/** What startAgent gets: the network (when up) and what to say about it in the host info. */
export interface HostNetworkStart {
  network: HostNetwork | undefined;
  info: AgentHostNetwork;
}

/**
 * Sets up the VM network according to the settings. `auto` logs why it could not and carries on
 * without (VMs then get no NIC); `on` fails the agent's start instead; `off` does nothing.
 */
export async function startHostNetwork(
  settings: Pick<Config, 'vmNetwork' | 'bridge' | 'vmSubnet' | 'vmNat'>,
  dir: string,
  logger: AgentLogger,
): Promise<HostNetworkStart> {
  const nat = settings.vmNat === 'on';
  const absent = (reason: string): HostNetworkStart => ({
    network: undefined,
    info: { enabled: false, bridge: settings.bridge, nat: false, reason },
  });
  if (settings.vmNetwork === 'off') return absent(NO_NETWORK);
  // A bad setting is an error in every mode.
  planSubnet(settings.vmSubnet);
  try {
    const network = await HostNetwork.setUp({
      bridge: settings.bridge,
      subnet: settings.vmSubnet,
      nat,
      dir,
      logger,
    });
    return { network, info: network.info };
  } catch (error) {
    if (settings.vmNetwork === 'on') throw error;
    if (error instanceof DomainError && error.code === 'VALIDATION_FAILED') throw error;
    const code = error instanceof DomainError ? error.code : 'AGENT_ERROR';
    logger.warn(
      { code, error: describe(error), bridge: settings.bridge },
      'no VM network on this host: VMs run without a NIC (NOVACRON_VM_NETWORK=off silences this)',
    );
    return absent(`${code}: ${describe(error)}`);
  }
}

/**
 * `novacron down`: stops the dnsmasq this agent started and removes the tap devices of its VMs
 * (their QEMUs are gone). The bridge stays, as Incus and libvirt leave theirs.
 */
export async function stopHostNetwork(
  dir: string,
  vmIds: string[],
  logger: AgentLogger,
): Promise<void> {
  const pidFile = join(dir, 'dnsmasq.pid');
  const pid = await readPid(pidFile);
  const args = pid === null ? null : await processArgs(pid);
  if (pid !== null && args && isDnsmasq(args) && args.includes(`--pid-file=${pidFile}`)) {
    await terminate(pid);
    logger.info({ pid }, 'stopped the dnsmasq of the VM bridge');
  }
  for (const id of vmIds) {
    const tap = tapNameOf(id);
    if (await exists(`/sys/class/net/${tap}`)) {
      await ip(['link', 'del', 'dev', tap]).catch((error: unknown) => {
        logger.warn({ vmId: id, tap, error: describe(error) }, 'cannot remove tap device');
      });
    }
  }
}

async function checkPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new DomainError(
      'HOST_PREREQUISITE_MISSING',
      'the VM network needs root (it creates a bridge, tap devices and runs dnsmasq); run the agent as root or set NOVACRON_VM_NETWORK=off',
      { need: 'root' },
    );
  }
  try {
    await access('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    throw new DomainError(
      'HOST_PREREQUISITE_MISSING',
      'no usable /dev/net/tun: tap devices need the tun module (modprobe tun)',
      { need: '/dev/net/tun' },
    );
  }
  await ip(['-V']);
  await dnsmasqBinary();
}

async function dnsmasqBinary(): Promise<string> {
  for (const candidate of DNSMASQ_CANDIDATES) {
    if (await exists(candidate)) return candidate;
  }
  throw missing('dnsmasq', 'dnsmasq-base');
}

function missing(program: string, pkg: string): DomainError {
  const installCommand = `apt-get install -y --no-install-recommends ${pkg}`;
  return new DomainError(
    'HOST_PREREQUISITE_MISSING',
    `${program} is not installed; the VM network needs it (install: ${installCommand})`,
    { missing: [pkg], installCommand },
  );
}

function ip(args: string[]): Promise<string> {
  return run('ip', args);
}

const PACKAGE_OF: Record<string, string> = { ip: 'iproute2', iptables: 'iptables' };

/** Runs a program with an argument array (never a shell); returns its stdout. */
function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: COMMAND_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (!error) {
        resolve(stdout);
        return;
      }
      if (error.code === 'ENOENT') {
        reject(missing(file, PACKAGE_OF[file] ?? file));
        return;
      }
      const said = stderr.trim().split('\n').slice(-3).join('; ');
      reject(
        new DomainError('AGENT_ERROR', `${basename(file)} ${args.join(' ')} failed: ${said}`, {
          program: basename(file),
        }),
      );
    });
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function readPid(file: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

async function processArgs(pid: number): Promise<string[] | null> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((arg, index, all) => arg !== '' || index < all.length - 1);
  } catch {
    return null;
  }
}

function isDnsmasq(args: string[]): boolean {
  return basename(args[0] ?? '') === 'dnsmasq';
}

function sameArgs(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((arg, index) => arg === b[index]);
}

async function sameNetns(pid: number): Promise<boolean> {
  try {
    return (await readlink(`/proc/${pid}/ns/net`)) === (await readlink('/proc/self/ns/net'));
  } catch {
    return false;
  }
}

/** A dnsmasq of this network namespace that serves DHCP on `bridge`, whoever started it. */
async function dnsmasqServing(bridge: string): Promise<number | null> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const args = await processArgs(pid);
    if (!args || !isDnsmasq(args)) continue;
    const serves = args.some(
      (arg, index) =>
        arg === `--interface=${bridge}` ||
        ((arg === '--interface' || arg === '-i') && args[index + 1] === bridge),
    );
    if (serves && (await sameNetns(pid))) return pid;
  }
  return null;
}

/**
 * A lock held by this process within its network namespace: an abstract unix socket, whose name
 * is per namespace and which the kernel frees when the process dies.
 */
async function namespaceLock(name: string, timeoutMs = 15_000): Promise<Server> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const server = createServer();
    const taken = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE') resolve(false);
        else reject(error);
      });
      server.listen(`\0${name}`, () => resolve(true));
    });
    if (taken) return server;
    if (Date.now() > deadline) {
      throw new DomainError('AGENT_ERROR', `another process holds the lock ${name} for too long`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function terminate(pid: number): Promise<void> {
  // A daemon that exited stays a zombie until its parent (often PID 1) reaps it: that is gone.
  const alive = async () => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  };
  if (!(await alive())) return;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 3_000 && (await alive()); waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (await alive()) process.kill(pid, 'SIGKILL');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
