import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestbed, destroyTestbed, inNamespace, planTestbed } from './netns.js';

const run = promisify(execFile);
// A subnet and prefix of their own, so a running `novacron up --hosts` is never touched.
const layout = planTestbed('10.199.7.0/24', 2, 'nct');

afterAll(async () => {
  await destroyTestbed(layout);
});

describe('network namespace testbed', () => {
  it('plans names and addresses, refusing nonsense', () => {
    expect(layout.bridge).toBe('nctbr0');
    expect(layout.hosts.map((h) => [h.name, h.namespace, h.address])).toEqual([
      ['host1', 'nct-host1', '10.199.7.11'],
      ['host2', 'nct-host2', '10.199.7.12'],
    ]);
    expect(() => planTestbed('10.0.0.0/8', 1)).toThrow(/subnet/);
    expect(() => planTestbed('10.1.2.0/24; reboot', 1)).toThrow(/subnet/);
    expect(() => planTestbed('10.1.2.0/24', 0)).toThrow(/host count/);
  });

  it('connects each namespace to the host over the bridge, and is idempotent', async () => {
    await createTestbed(layout);
    await createTestbed(layout);
    // A listener on the bridge address is reached from inside a namespace over real TCP.
    const server = createServer((socket) => socket.end('hello from the host\n'));
    await new Promise<void>((resolve) => server.listen(0, layout.serverAddress, resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const [command, args] = inNamespace(layout.hosts[1]!.namespace, 'busybox', ['true']);
      expect(command).toBe('ip');
      expect(args.slice(0, 3)).toEqual(['netns', 'exec', 'nct-host2']);
      const probe = `require('net').connect(${port}, '${layout.serverAddress}').on('data', (d) => { process.stdout.write(d); process.exit(0); })`;
      const { stdout } = await run(
        'ip',
        ['netns', 'exec', layout.hosts[1]!.namespace, process.execPath, '-e', probe],
        {
          timeout: 10_000,
        },
      );
      expect(stdout).toBe('hello from the host\n');
      // Namespaces see each other too.
      const { stdout: route } = await run('ip', [
        '-n',
        layout.hosts[0]!.namespace,
        'route',
        'get',
        layout.hosts[1]!.address,
      ]);
      expect(route).toContain(layout.hosts[1]!.address);
    } finally {
      server.close();
    }
    await destroyTestbed(layout);
    const { stdout: namespaces } = await run('ip', ['netns', 'list']);
    expect(namespaces).not.toMatch(/nct-host/);
  }, 60_000);
});
