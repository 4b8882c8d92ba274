import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { NovaCronClient } from '@novacron/client';
import { ensureDebianCloudImage, type DebianCloudImage } from '@novacron/qemu';
import { makeTempDir, testCacheDir, waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedTestbed, type EmbeddedTestbed } from './testing.js';

// The whole path a user takes, in the guest-os tier: a real Debian 12 with cloud-init (built once
// by debootstrap into the test cache), exported as VMware ships it (a VMDK inside an OVA), uploaded to a
// running NovaCron (server and agent), a VM created from it with SSH keys and user-data through
// the API; the guest prints what cloud-init set up on its serial console, read through the API.
const MARKER = 'NOVACRON-CLOUD-INIT-MARKER';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0Zm9vYmFyYmF6cXV4 ops@novacron-test';
// runcmd and power_state run once per instance: the guest powers itself off (cleanly, so what
// cloud-init recorded is on disk) after its first boot only.
const USER_DATA = `#cloud-config
runcmd:
  - [sh, -c, 'echo "${MARKER} host=$(hostname) iid=$(cat /var/lib/cloud/data/instance-id) keys=$(grep -c novacron-test /home/debian/.ssh/authorized_keys)" > /dev/ttyS0']
power_state:
  mode: poweroff
  delay: now
`;
const FINISHED = 'Datasource DataSourceNoCloud [seed=/dev/sr0]';
const OVF = `<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References><File ovf:id="file1" ovf:href="debian-disk1.vmdk"/></References>
  <DiskSection><Info>disks</Info><Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="1611661312"/></DiskSection>
  <VirtualSystem ovf:id="debian">
    <VirtualHardwareSection>
      <Item><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;
const run = promisify(execFile);

let debian: DebianCloudImage;
let temp: { path: string; remove(): Promise<void> };
let testbed: EmbeddedTestbed | undefined;
let client: NovaCronClient;

beforeAll(async () => {
  const started = Date.now();
  debian = await ensureDebianCloudImage({
    cacheDir: join(testCacheDir, 'debian-cloud-image'),
    outDir: join(testCacheDir, 'debian-cloud-image', 'images', 'debian-ci'),
  });
  console.info(
    `Debian cloud image ready in ${Date.now() - started} ms (${debian.builtInMs === null ? 'cached' : `built in ${debian.builtInMs} ms`}, ${debian.sizeBytes} bytes)`,
  );
  temp = await makeTempDir('nc-ova-');
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
  testbed = await startEmbeddedTestbed();
  client = testbed.client;
}, 1_800_000);

afterAll(async () => {
  await testbed?.close();
  await temp?.remove();
}, 120_000);

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('cloud-init in a real Debian guest, imported from an OVA', () => {
  it('uploads the OVA, creates a VM with SSH keys and user-data, and runs it once per instance', async () => {
    const uploadStarted = Date.now();
    const body = Readable.toWeb(
      createReadStream(join(temp.path, 'debian.ova')),
    ) as ReadableStream<Uint8Array>;
    const upload = await client.images.upload({ name: 'debian-ci' }, body);
    expect(await client.operations.wait(upload.id, 600)).toMatchObject({ status: 'succeeded' });
    expect(await client.images.get('debian-ci')).toMatchObject({ kind: 'disk', status: 'ready' });
    console.info(`OVA uploaded and imported in ${Date.now() - uploadStarted} ms`);

    const created = Date.now();
    const create = await client.vms.create({
      name: 'ci-a',
      image: 'debian-ci',
      memoryMiB: 512,
      diskGiB: 2,
      cloudInit: { sshKeys: [KEY], userData: USER_DATA, hostname: 'ci-guest' },
    });
    expect(await client.operations.wait(create.id, 600)).toMatchObject({ status: 'succeeded' });
    const vm = await client.vms.get('ci-a');
    await waitFor(
      'the cloud-init marker on the serial console',
      async () => ((await client.vms.consoleOutput('ci-a')).includes(MARKER) ? true : undefined),
      600_000,
      1_000,
    );
    console.info(`cloud-init marker ${Date.now() - created} ms after the create (TCG)`);
    expect(await client.vms.consoleOutput('ci-a')).toContain(
      `${MARKER} host=ci-guest iid=iid-${vm.id} keys=1`,
    );

    // power_state: the guest powers itself off once cloud-init is done.
    await waitFor(
      'the guest powering itself off',
      async () => ((await client.vms.get('ci-a')).state === 'stopped' ? true : undefined),
      300_000,
      1_000,
    );
    expect(await client.vms.consoleOutput('ci-a')).toContain(FINISHED);

    // A restart: the seed is written again from what the server kept, with the same instance
    // id, so cloud-init finds its datasource again and runs no per-instance module twice.
    const start = await client.vms.action('ci-a', { action: 'start' });
    expect(await client.operations.wait(start.id, 300)).toMatchObject({ status: 'succeeded' });
    await waitFor(
      'cloud-init finishing its second boot',
      async () => (count(await client.vms.consoleOutput('ci-a'), FINISHED) >= 2 ? true : undefined),
      600_000,
      1_000,
    );
    expect(count(await client.vms.consoleOutput('ci-a'), `${MARKER} host=`)).toBe(1);
    expect((await client.vms.get('ci-a')).state).toBe('running');
    const stop = await client.vms.action('ci-a', { action: 'stop', force: true });
    expect(await client.operations.wait(stop.id, 120)).toMatchObject({ status: 'succeeded' });
  });
});
