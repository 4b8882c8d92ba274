import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { NovaCronClient } from '@novacron/client';
import { type ConsoleSocketConstructor } from '@novacron/client';
import { pidsMatching, waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startEmbeddedTestbed, type EmbeddedTestbed } from './testing.js';

// The default VM network (docs/adr/0014-default-network.md): two real tiny guests on one host's
// bridge get addresses from the agent's dnsmasq and ping each other and the host.

const run = promisify(execFile);
const Socket = WebSocket as unknown as ConsoleSocketConstructor;

// A bridge and subnet of this run only: other runs on the machine may use the default ones.
const n = 20 + (process.pid % 200);
const BRIDGE = `ncnet${n}`;
const SUBNET = `10.79.${n}.0/24`;
const HOST_ADDRESS = `10.79.${n}.1`;

let testbed: EmbeddedTestbed | undefined;
let client: NovaCronClient;

beforeAll(async () => {
  testbed = await startEmbeddedTestbed({
    NOVACRON_VM_NETWORK: 'on',
    NOVACRON_BRIDGE: BRIDGE,
    NOVACRON_VM_SUBNET: SUBNET,
    NOVACRON_METRICS_INTERVAL_MS: '1000',
  });
  client = testbed.client;
}, 180_000);

afterAll(async () => {
  await testbed?.close();
  await run('ip', ['link', 'del', 'dev', BRIDGE]).catch(() => undefined);
}, 60_000);

/** Types `command` on the VM's serial console and waits for the shell to say how it ended. */
async function shell(vm: string, command: string, tag: number): Promise<string> {
  let received = '';
  const stream = client.console(vm, {
    WebSocket: Socket,
    onData: (bytes) => {
      received += Buffer.from(bytes).toString('utf8');
    },
  });
  try {
    // Input sent before the stream is attached would be lost: wait for the guest's output.
    await waitFor(
      'the console stream',
      () => Promise.resolve(received ? true : undefined),
      30_000,
      50,
    );
    // The terminal echoes what is typed: $((...)) makes the answer differ from the echo.
    stream.send(`${command} && echo CMD-OK-$((${tag}+1)) || echo CMD-FAILED-$((${tag}+1))\n`);
    const outcome = await waitFor(
      `the outcome of '${command}' on ${vm}`,
      () => {
        const match = new RegExp(`CMD-(OK|FAILED)-${tag + 1}\\b`).exec(received);
        return Promise.resolve(match?.[1]);
      },
      60_000,
      100,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; the console showed:\n${received}`);
    });
    if (outcome !== 'OK') throw new Error(`'${command}' failed on ${vm}:\n${received}`);
    return received;
  } finally {
    stream.close();
    await stream.done.catch(() => undefined);
  }
}

describe('the default VM network', () => {
  it('two VMs get DHCP addresses, ping each other and the host, and count NIC bytes', async () => {
    const started = Date.now();
    const names = ['neta', 'netb'];
    const creates = await Promise.all(
      names.map((name) => client.vms.create({ name, image: 'tiny', memoryMiB: 128 })),
    );
    for (const op of await Promise.all(creates.map((c) => client.operations.wait(c.id, 120)))) {
      expect(op).toMatchObject({ status: 'succeeded' });
    }
    const [a, b] = await Promise.all(
      names.map((name) =>
        waitFor(
          `${name}'s DHCP address on its console`,
          async () =>
            /NOVACRON-GUEST-IP (\d+\.\d+\.\d+\.\d+)/.exec(
              await client.vms.consoleOutput(name),
            )?.[1],
          60_000,
          250,
        ),
      ),
    );
    console.log(`network: both guests had a DHCP address ${Date.now() - started} ms after create`);
    const log = await client.vms.consoleOutput('neta');
    const before = log.slice(0, log.indexOf('NOVACRON-GUEST-IP'));
    const uptime = [...before.matchAll(/HEARTBEAT \d+ ([\d.]+)/g)].at(-1)?.[1];
    console.log(`network: neta had its address at about ${uptime ?? '?'} s of guest uptime`);
    expect(a).toMatch(new RegExp(`^10\\.79\\.${n}\\.\\d+$`));
    expect(b).toMatch(new RegExp(`^10\\.79\\.${n}\\.\\d+$`));
    expect(a).not.toBe(b);
    expect(a).not.toBe(HOST_ADDRESS);

    // One dnsmasq serves the bridge, and it is the agent's own (files under its data dir).
    const dnsmasq = await pidsMatching(`--interface=${BRIDGE}`);
    expect(dnsmasq).toHaveLength(1);
    expect(await pidsMatching(`${testbed?.dataDir ?? '?'}/agent/network/dnsmasq.pid`)).toEqual(
      dnsmasq,
    );

    const toPeer = await shell('neta', `ping -c 3 ${b}`, 40);
    expect(toPeer).toMatch(/3 packets transmitted, 3 packets received/);
    const toHost = await shell('neta', `ping -c 3 ${HOST_ADDRESS}`, 50);
    expect(toHost).toMatch(/3 packets transmitted, 3 packets received/);
    const back = await shell('netb', `ping -c 2 ${a}`, 60);
    expect(back).toMatch(/2 packets transmitted, 2 packets received/);

    // The pings show in neta's NIC counters (from its tap device) within a few samples.
    const sample = await waitFor(
      'NIC counters of neta that include the pings',
      async () => {
        const { samples } = await client.vms.metrics('neta');
        const last = samples.at(-1);
        // 8 ICMP requests and replies of 98 bytes each at least, plus DHCP and ARP.
        return last?.nic && last.nic.txBytes > 8 * 98 && last.nic.rxBytes > 8 * 98
          ? last
          : undefined;
      },
      30_000,
      500,
    );
    console.log(`network: neta NIC after the pings: ${JSON.stringify(sample.nic)}`);
    expect(sample.nicAbsentReason).toBeUndefined();
    expect(sample.nic?.txPackets).toBeGreaterThanOrEqual(8);
    expect(sample.nic?.rxPackets).toBeGreaterThanOrEqual(8);
  }, 240_000);
});
