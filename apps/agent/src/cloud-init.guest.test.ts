import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AgentVmSpec, AgentVmStatus } from '@novacron/api';
import { ClusterCa, SERVER_PEER_NAME, type TlsIdentity } from '@novacron/auth';
import {
  DEBIAN_CLOUD_DISK_FILE,
  ensureDebianCloudImage,
  ensureTinyImage,
  importToQcow2,
  type DebianCloudImage,
  type TinyImage,
} from '@novacron/qemu';
import { killMatching, makeTempDir, testCacheDir, waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from './start-agent.js';
import { callAgent, silentLogger } from './testing.js';

// The guest-OS tier: a real Debian 12 with cloud-init (built once by debootstrap into the
// repository's .cache, keyed by its recipe), booted by a real agent under TCG from its own disk
// through GRUB, given a NoCloud seed made from the VM's spec. Its user-data prints a marker on
// the serial console with what cloud-init set up: host name, instance id, the SSH key. The disk
// the VM boots went through an import first: exported as a VMDK inside an OVA, then imported
// by the function the server's image import runs (a foreign image that boots).
const MARKER = 'NOVACRON-CLOUD-INIT-MARKER';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0Zm9vYmFyYmF6cXV4 ops@novacron-test';
// runcmd and power_state run once per instance: the guest powers itself off (cleanly, so what
// cloud-init recorded is on disk) after the first boot only.
const USER_DATA = `#cloud-config
runcmd:
  - [sh, -c, 'echo "${MARKER} host=$(hostname) iid=$(cat /var/lib/cloud/data/instance-id) keys=$(grep -c novacron-test /home/debian/.ssh/authorized_keys)" > /dev/ttyS0']
power_state:
  mode: poweroff
  delay: now
`;
const FINISHED = 'Datasource DataSourceNoCloud [seed=/dev/sr0]';
const OVF = `<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References><File ovf:id="file1" ovf:href="debian-disk1.vmdk"/></References>
  <DiskSection><Info>disks</Info><Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="1611661312"/></DiskSection>
</Envelope>
`;
const run = promisify(execFile);

let debian: DebianCloudImage;
let tiny: TinyImage;
let temp: { path: string; remove(): Promise<void> };
let agent: RunningAgent | undefined;
let serverTls: TlsIdentity;
let importedSha256: string;

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

beforeAll(async () => {
  const started = Date.now();
  debian = await ensureDebianCloudImage({
    cacheDir: join(testCacheDir, 'debian-cloud-image'),
    outDir: join(testCacheDir, 'debian-cloud-image', 'images', 'debian-ci'),
  });
  console.info(
    `Debian cloud image ready in ${Date.now() - started} ms (${debian.builtInMs === null ? 'cached' : `built in ${debian.builtInMs} ms`}, ${debian.sizeBytes} bytes)`,
  );
  // The agent's accelerator probe boots the tiny guest.
  tiny = await ensureTinyImage({
    cacheDir: join(testCacheDir, 'tiny-image'),
    outDir: join(testCacheDir, 'tiny-image', 'images', 'tiny'),
  });
  temp = await makeTempDir('nc-ci-');
  const ca = await ClusterCa.create();
  const agentTls = await ca.issueIdentity(
    { role: 'agent', name: 'test-host' },
    { addresses: ['127.0.0.1'] },
  );
  serverTls = await ca.issueIdentity({ role: 'server', name: SERVER_PEER_NAME });
  // Exported as VMware would ship it (a VMDK in an OVA), imported back to qcow2.
  const importStarted = Date.now();
  const ova = join(temp.path, 'ova');
  await mkdir(ova);
  await run('qemu-img', [
    'convert',
    '-q',
    '-f',
    'qcow2',
    '-O',
    'vmdk',
    debian.diskPath,
    join(ova, 'debian-disk1.vmdk'),
  ]);
  await writeFile(join(ova, 'debian.ovf'), OVF);
  await run('tar', [
    '--format=ustar',
    '-cf',
    join(temp.path, 'debian.ova'),
    '-C',
    ova,
    'debian.ovf',
    'debian-disk1.vmdk',
  ]);
  const imported = join(temp.path, 'imported.qcow2');
  await importToQcow2(join(temp.path, 'debian.ova'), imported, join(temp.path, 'ova-disk'));
  importedSha256 = await sha256Of(imported);
  console.info(`exported to an OVA and imported back in ${Date.now() - importStarted} ms`);
  // What a pull from the server leaves: the image under <id>/<sha256>/.
  const cached = join(temp.path, 'agent', 'images', 'debian-ci', importedSha256);
  await mkdir(cached, { recursive: true });
  await run('mv', [imported, join(cached, DEBIAN_CLOUD_DISK_FILE)]);
  agent = await startAgent({
    config: { agentHost: '127.0.0.1', agentPort: 0, accel: 'auto', dataDir: temp.path },
    logger: silentLogger,
    identity: { name: 'test-host', tls: agentTls },
    probeImage: () => Promise.resolve(tiny),
  });
}, 1_800_000);

afterAll(async () => {
  await agent?.close().catch(() => undefined);
  if (temp) {
    await killMatching(temp.path);
    await temp.remove();
  }
});

function call<T>(method: string, path: string, body?: unknown) {
  if (!agent) throw new Error('no agent');
  return callAgent<T>(serverTls, agent, 'test-host', method, path, body);
}

const spec: AgentVmSpec = {
  id: 'ci-a',
  name: 'ci-a',
  cpus: 1,
  memoryMiB: 512,
  diskGiB: 2,
  image: {
    id: 'debian-ci',
    name: 'debian-ci',
    kind: 'disk',
    sha256: '',
    defaultKernelArgs: '',
  },
  kernelArgs: '',
  machineType: 'pc-q35-7.2',
  desiredState: 'running',
  cloudInit: {
    instanceId: 'iid-ci-a',
    hostname: 'ci-guest',
    sshKeys: [KEY],
    userData: USER_DATA,
  },
};

async function consoleText(): Promise<string> {
  return (await call<string>('GET', '/v1/vms/ci-a/console')).body;
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('cloud-init in a real Debian guest', () => {
  it('runs the user-data with the seed host name, instance id and SSH key, once per instance', async () => {
    const put = await call<AgentVmStatus>('PUT', '/v1/vms/ci-a', {
      ...spec,
      image: { ...spec.image, sha256: importedSha256 },
    });
    expect(put.status).toBe(200);
    const booted = Date.now();
    await waitFor(
      'the cloud-init marker on the serial console',
      async () => ((await consoleText()).includes(MARKER) ? true : undefined),
      600_000,
      1_000,
    );
    console.info(`cloud-init marker after ${Date.now() - booted} ms (TCG)`);
    const first = await consoleText();
    expect(first).toContain(`${MARKER} host=ci-guest iid=iid-ci-a keys=1`);

    // power_state: the guest powers itself off once cloud-init is done.
    await waitFor(
      'the guest powering itself off',
      async () => {
        const { body } = await call<AgentVmStatus>('GET', '/v1/vms/ci-a');
        return body.state === 'stopped' ? true : undefined;
      },
      300_000,
      1_000,
    );
    expect(await consoleText()).toContain(FINISHED);

    // A restart: a new QEMU, the seed written again from the spec, the same instance id, so
    // cloud-init finds its datasource again and runs no per-instance module a second time.
    const start = await call<AgentVmStatus>('POST', '/v1/vms/ci-a/state', { action: 'start' });
    expect(start.body.state).toBe('running');
    await waitFor(
      'cloud-init finishing its second boot',
      async () => (count(await consoleText(), FINISHED) >= 2 ? true : undefined),
      600_000,
      1_000,
    );
    expect(count(await consoleText(), `${MARKER} host=`)).toBe(1);
    const { body } = await call<AgentVmStatus>('GET', '/v1/vms/ci-a');
    expect(body.state).toBe('running');
    await call('POST', '/v1/vms/ci-a/state', { action: 'stop', force: true });
    expect((await call('DELETE', '/v1/vms/ci-a')).status).toBe(204);
  });
});
