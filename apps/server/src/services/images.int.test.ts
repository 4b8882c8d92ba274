import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Image, Operation } from '@novacron/api';
import { makeTempDir } from '@novacron/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing.js';

const run = promisify(execFile);
const OVF = `<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References><File ovf:id="file1" ovf:href="vm-disk1.vmdk"/></References>
  <DiskSection><Info>disks</Info><Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="4194304"/></DiskSection>
  <VirtualSystem ovf:id="appliance">
    <VirtualHardwareSection>
      <Item><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>384</rasd:VirtualQuantity></Item>
      <Item><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;

// Imports over real HTTP from a local file server, converted by the real qemu-img.
let files: Awaited<ReturnType<typeof makeTempDir>>;
let http: Server;
let base: string;
let server: TestServer;

beforeAll(async () => {
  files = await makeTempDir();
  await writeFile(join(files.path, 'vmlinuz'), Buffer.alloc(300_000, 1));
  await writeFile(join(files.path, 'initrd.img'), Buffer.alloc(100_000, 2));
  await run('qemu-img', ['create', '-q', '-f', 'raw', join(files.path, 'disk.raw'), '4M']);
  await run('qemu-img', [
    'convert',
    '-q',
    '-f',
    'raw',
    '-O',
    'vmdk',
    join(files.path, 'disk.raw'),
    join(files.path, 'disk.vmdk'),
  ]);
  // A qcow2 that names a host file as its backing file: it must never be read.
  await run('qemu-img', [
    'create',
    '-q',
    '-f',
    'qcow2',
    '-b',
    '/etc/hostname',
    '-F',
    'raw',
    join(files.path, 'evil.qcow2'),
  ]);
  await writeFile(join(files.path, 'not-an-image.txt'), 'hello');
  // An OVA as VMware exports one: the descriptor first, then a streamOptimized VMDK.
  await run('qemu-img', [
    'convert',
    '-q',
    '-f',
    'raw',
    '-O',
    'vmdk',
    '-o',
    'subformat=streamOptimized',
    join(files.path, 'disk.raw'),
    join(files.path, 'vm-disk1.vmdk'),
  ]);
  await writeFile(join(files.path, 'vm.ovf'), OVF);
  await run('tar', [
    '--format=ustar',
    '-cf',
    join(files.path, 'vm.ova'),
    '-C',
    files.path,
    'vm.ovf',
    'vm-disk1.vmdk',
  ]);
  // Malformed: the descriptor names a disk the archive lacks.
  await run('tar', [
    '--format=ustar',
    '-cf',
    join(files.path, 'broken.ova'),
    '-C',
    files.path,
    'vm.ovf',
  ]);
  http = createServer((request, response) => {
    const name = (request.url ?? '/').slice(1);
    if (!/^[a-z0-9.-]+$/.test(name)) return void response.writeHead(404).end();
    const path = join(files.path, name);
    stat(path).then(
      (info) => {
        response.writeHead(200, { 'content-length': info.size });
        createReadStream(path).pipe(response);
      },
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => http.close(resolve));
  await files.remove();
});

beforeEach(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  await server.close();
});

async function importImage(payload: Record<string, unknown>) {
  const response = await server.app.inject({
    method: 'POST',
    url: '/api/v1/images',
    headers: server.auth,
    payload,
  });
  return response;
}

async function finished(operation: Operation): Promise<Operation> {
  const response = await server.app.inject({
    url: `/api/v1/operations/${operation.id}/wait?timeout=60`,
    headers: server.auth,
  });
  return response.json<Operation>();
}

async function image(name: string): Promise<Image> {
  return (
    await server.app.inject({ url: `/api/v1/images/${name}`, headers: server.auth })
  ).json<Image>();
}

describe('image import by URL', () => {
  it('imports a kernel and initrd, checksummed in IMAGE_FILES order', async () => {
    const accepted = await importImage({
      name: 'k1',
      kernelUrl: `${base}/vmlinuz`,
      initrdUrl: `${base}/initrd.img`,
      defaultKernelArgs: 'quiet',
    });
    expect(accepted.statusCode).toBe(202);
    expect(await finished(accepted.json<Operation>())).toMatchObject({
      status: 'succeeded',
      kind: 'image.import',
    });
    const imported = await image('k1');
    const expected = createHash('sha256')
      .update(await readFile(join(files.path, 'vmlinuz')))
      .update(await readFile(join(files.path, 'initrd.img')))
      .digest('hex');
    expect(imported).toMatchObject({
      status: 'ready',
      kind: 'kernel',
      sizeBytes: 400_000,
      sha256: expected,
    });
  });

  it('converts a VMDK disk image to qcow2', async () => {
    const accepted = await importImage({ name: 'd1', url: `${base}/disk.vmdk` });
    expect(await finished(accepted.json<Operation>())).toMatchObject({ status: 'succeeded' });
    const imported = await image('d1');
    expect(imported).toMatchObject({ status: 'ready', kind: 'disk' });
    const { stdout } = await run('qemu-img', [
      'info',
      '--output=json',
      join(server.imageDir, imported.id, 'disk.qcow2'),
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ format: 'qcow2', 'virtual-size': 4 * 1024 * 1024 });
  });

  it('refuses an image with a backing file, a non-image and a dead URL, leaving nothing behind', async () => {
    const cases: [string, string][] = [
      ['evil', 'IMAGE_INVALID'],
      ['text', 'IMAGE_INVALID'],
      ['gone', 'IMAGE_DOWNLOAD_FAILED'],
    ];
    const urls: Record<string, string> = {
      evil: `${base}/evil.qcow2`,
      text: `${base}/not-an-image.txt`,
      gone: `${base}/missing.qcow2`,
    };
    for (const [name, code] of cases) {
      const accepted = await importImage({ name, url: urls[name] });
      const operation = await finished(accepted.json<Operation>());
      expect(operation, name).toMatchObject({ status: 'failed', error: { code } });
      const failed = await image(name);
      expect(failed.status).toBe('failed');
      await expect(stat(join(server.imageDir, failed.id))).rejects.toThrow();
    }
  });

  it('checks an expected SHA-256 while downloading; a mismatch leaves no usable image and no files', async () => {
    const sum = async (file: string) =>
      createHash('sha256')
        .update(await readFile(join(files.path, file)))
        .digest('hex');
    const good = await importImage({
      name: 'sum-ok',
      url: `${base}/disk.vmdk`,
      sha256: await sum('disk.vmdk'),
    });
    expect(await finished(good.json<Operation>())).toMatchObject({ status: 'succeeded' });
    expect(await image('sum-ok')).toMatchObject({ status: 'ready', kind: 'disk' });

    const wrong = 'ab'.repeat(32);
    const cases: [string, Record<string, unknown>, string][] = [
      ['sum-bad', { url: `${base}/disk.vmdk`, sha256: wrong }, `${base}/disk.vmdk`],
      [
        'sum-bad-initrd',
        {
          kernelUrl: `${base}/vmlinuz`,
          initrdUrl: `${base}/initrd.img`,
          kernelSha256: await sum('vmlinuz'),
          initrdSha256: wrong,
        },
        `${base}/initrd.img`,
      ],
    ];
    for (const [name, payload, url] of cases) {
      const accepted = await importImage({ name, ...payload });
      expect(accepted.statusCode, name).toBe(202);
      const operation = await finished(accepted.json<Operation>());
      expect(operation, name).toMatchObject({
        status: 'failed',
        error: {
          code: 'IMAGE_CORRUPT',
          details: { url, expected: wrong, actual: await sum(url.slice(base.length + 1)) },
        },
      });
      const failed = await image(name);
      expect(failed.status).toBe('failed');
      await expect(stat(join(server.imageDir, failed.id))).rejects.toThrow();
    }
  });

  it('refuses bad requests before anything is stored', async () => {
    const bad: [Record<string, unknown>, number, string][] = [
      [{ name: 'x', url: 'file:///etc/passwd' }, 400, 'VALIDATION_FAILED'],
      [{ name: 'x', kernelUrl: `${base}/vmlinuz` }, 400, 'VALIDATION_FAILED'],
      [
        {
          name: 'x',
          url: `${base}/disk.vmdk`,
          kernelUrl: `${base}/vmlinuz`,
          initrdUrl: `${base}/i`,
        },
        400,
        'VALIDATION_FAILED',
      ],
      [{ name: 'tiny', url: `${base}/disk.vmdk` }, 409, 'IMAGE_NAME_TAKEN'],
      [
        { name: 'x', kernelUrl: `${base}/vmlinuz`, initrdUrl: `${base}/i`, sha256: 'a'.repeat(64) },
        400,
        'VALIDATION_FAILED',
      ],
      [{ name: 'x', url: `${base}/disk.vmdk`, sha256: 'XYZ' }, 400, 'VALIDATION_FAILED'],
      [{ name: '../x', url: `${base}/disk.vmdk` }, 400, 'VALIDATION_FAILED'],
    ];
    const before = await server.store.images.list('default');
    for (const [payload, status, code] of bad) {
      const response = await importImage(payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(status);
      expect(response.json()).toMatchObject({ error: { code } });
    }
    expect(await server.store.images.list('default')).toEqual(before);
  });

  it('deletes an unused image and refuses one a VM uses', async () => {
    await finished((await importImage({ name: 'd2', url: `${base}/disk.vmdk` })).json<Operation>());
    await finished((await importImage({ name: 'd3', url: `${base}/disk.vmdk` })).json<Operation>());
    const [d2, d3] = [await image('d2'), await image('d3')];
    const create = await server.app.inject({
      method: 'POST',
      url: '/api/v1/vms',
      headers: server.auth,
      payload: { name: 'v2', image: 'd2', start: false },
    });
    expect(create.statusCode).toBe(202);
    const used = await server.app.inject({
      method: 'DELETE',
      url: '/api/v1/images/d2',
      headers: server.auth,
    });
    expect(used.statusCode).toBe(409);
    expect(used.json()).toMatchObject({
      error: { code: 'IMAGE_IN_USE', details: { vms: ['v2'] } },
    });
    await expect(stat(join(server.imageDir, d2.id, 'disk.qcow2'))).resolves.toBeDefined();

    const unused = await server.app.inject({
      method: 'DELETE',
      url: '/api/v1/images/d3',
      headers: server.auth,
    });
    expect(unused.statusCode).toBe(200);
    expect(
      (await server.app.inject({ url: '/api/v1/images/d3', headers: server.auth })).statusCode,
    ).toBe(404);
    await expect(stat(join(server.imageDir, d3.id))).rejects.toThrow();
  });
});

describe('image upload', () => {
  async function upload(query: string, file: string) {
    return server.app.inject({
      method: 'POST',
      url: `/api/v1/images/upload?${query}`,
      headers: { ...server.auth, 'content-type': 'application/octet-stream' },
      payload: await readFile(join(files.path, file)),
    });
  }

  it('imports an uploaded VMDK and an uploaded OVA, as qcow2', async () => {
    const uploads: [string, string][] = [
      ['up-vmdk', 'disk.vmdk'],
      ['up-ova', 'vm.ova'],
    ];
    for (const [name, file] of uploads) {
      const accepted = await upload(`name=${name}`, file);
      expect(accepted.statusCode, name).toBe(202);
      const operation = await finished(accepted.json<Operation>());
      expect(operation, name).toMatchObject({ status: 'succeeded', kind: 'image.import' });
      // What a VM made from it needs: the disk's size, and the appliance's own sizing.
      expect(operation.result, name).toMatchObject({ virtualSizeBytes: 4 * 1024 * 1024 });
      expect(operation.result?.ovf, name).toEqual(
        file.endsWith('.ova') ? { bootDisk: 'vm-disk1.vmdk', cpus: 2, memoryMiB: 384 } : undefined,
      );
      const imported = await image(name);
      expect(imported).toMatchObject({ kind: 'disk', status: 'ready' });
      const { stdout } = await run('qemu-img', [
        'info',
        '--output=json',
        join(server.imageDir, imported.id, 'disk.qcow2'),
      ]);
      expect(JSON.parse(stdout)).toMatchObject({
        format: 'qcow2',
        'virtual-size': 4 * 1024 * 1024,
      });
    }
    // Nothing of the uploads is left behind.
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(join(server.imageDir, '.uploads'))).toEqual([]);
  });

  it('refuses a malformed upload with 400 before storing anything', async () => {
    const cases: [string, string, number, string][] = [
      ['name=bad-ova', 'broken.ova', 400, 'IMAGE_INVALID'],
      ['name=bad-text', 'not-an-image.txt', 400, 'IMAGE_INVALID'],
      ['name=bad-backing', 'evil.qcow2', 400, 'IMAGE_INVALID'],
      [`name=bad-sum&sha256=${'0'.repeat(64)}`, 'disk.vmdk', 400, 'IMAGE_INVALID'],
      ['name=tiny', 'disk.vmdk', 409, 'IMAGE_NAME_TAKEN'],
      ['name=..%2Fx', 'disk.vmdk', 400, 'VALIDATION_FAILED'],
    ];
    for (const [query, file, status, code] of cases) {
      const response = await upload(query, file);
      expect(response.statusCode, query).toBe(status);
      expect(response.json(), query).toMatchObject({ error: { code } });
    }
    for (const name of ['bad-ova', 'bad-text', 'bad-backing', 'bad-sum']) {
      const response = await server.app.inject({
        url: `/api/v1/images/${name}`,
        headers: server.auth,
      });
      expect(response.statusCode, name).toBe(404);
    }
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(join(server.imageDir, '.uploads'))).toEqual([]);
  });

  it('imports an OVA by URL too, and fails a malformed one with IMAGE_INVALID', async () => {
    const good = await finished(
      (await importImage({ name: 'url-ova', url: `${base}/vm.ova` })).json<Operation>(),
    );
    expect(good).toMatchObject({ status: 'succeeded' });
    const bad = await finished(
      (await importImage({ name: 'url-bad', url: `${base}/broken.ova` })).json<Operation>(),
    );
    expect(bad).toMatchObject({ status: 'failed', error: { code: 'IMAGE_INVALID' } });
  });
});
