import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importToQcow2, inspectImportSource } from './foreign-image.js';
import { parseOvf } from './ova.js';
import { imageInfo } from './qemu-img.js';

// Real qemu-img and tar make the inputs: VMDK, VHD (vpc), VHDX, OVA, and malformed ones.
const run = promisify(execFile);
const MiB = 1024 * 1024;
let temp: { path: string; remove(): Promise<void> };
let raw: string;

const ovf = (disk: string, extra = '') => `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References>
    <File ovf:id="file1" ovf:href="${disk}"/>
    <File ovf:id="file2" ovf:href="data.vmdk"/>
  </References>
  <DiskSection>
    <Info>Virtual disks</Info>
    <Disk ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:capacity="4194304"/>
    <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="4194304" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <VirtualSystem ovf:id="vm">
    <VirtualHardwareSection>
      <Item><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>512</rasd:VirtualQuantity></Item>
      <Item><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:HostResource>ovf:/disk/vmdisk2</rasd:HostResource><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>${extra}
</Envelope>
`;

beforeAll(async () => {
  temp = await makeTempDir('nc-import-');
  raw = join(temp.path, 'disk.raw');
  // A recognisable disk: a marker at the start and at 3 MiB.
  const bytes = Buffer.alloc(4 * MiB);
  bytes.write('NOVACRON-IMPORT-START', 0);
  bytes.write('NOVACRON-IMPORT-3MIB', 3 * MiB);
  await writeFile(raw, bytes);
});

afterAll(async () => {
  await temp.remove();
});

async function convertFrom(format: string, options: string[] = []): Promise<string> {
  const path = join(temp.path, `disk.${format}`);
  await run('qemu-img', ['convert', '-f', 'raw', '-O', format, ...options, raw, path]);
  return path;
}

async function sameContent(qcow2: string): Promise<void> {
  const back = join(temp.path, `back-${Math.random().toString(16).slice(2)}.raw`);
  await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, back]);
  const data = await readFile(back);
  expect(data.toString('latin1', 0, 21)).toBe('NOVACRON-IMPORT-START');
  expect(data.toString('latin1', 3 * MiB, 3 * MiB + 20)).toBe('NOVACRON-IMPORT-3MIB');
}

async function ova(name: string, files: Record<string, string | Buffer>, order: string[]) {
  const dir = join(temp.path, `ova-${name}`);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    await writeFile(join(dir, file), content);
  }
  const path = join(temp.path, `${name}.ova`);
  await run('tar', ['--format=ustar', '-cf', path, '-C', dir, ...order]);
  return { path, dir };
}

describe('import from other hypervisors', () => {
  for (const [format, options] of [
    ['vmdk', []],
    ['vmdk', ['-o', 'subformat=streamOptimized']],
    ['vpc', []],
    ['vhdx', []],
    ['vdi', []],
  ] as [string, string[]][]) {
    it(`converts ${format} ${options.join(' ')} to a standalone qcow2 with the same content`, async () => {
      const source = await convertFrom(format, options);
      expect(await inspectImportSource(source)).toMatchObject({ kind: 'disk', format });
      const target = join(temp.path, `from-${format}.qcow2`);
      await importToQcow2(source, target, join(temp.path, 'scratch'));
      const info = await imageInfo(target);
      expect(info).toMatchObject({ format: 'qcow2', backingFile: null });
      await sameContent(target);
    });
  }

  it('imports the boot disk of an OVA (the first disk drive of its hardware)', async () => {
    const vmdk = await convertFrom('vmdk', ['-o', 'subformat=streamOptimized']);
    const disk = await readFile(vmdk);
    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(disk).digest('hex');
    const { path } = await ova(
      'good',
      {
        'vm.ovf': ovf('vm-disk1.vmdk'),
        'vm.mf': `SHA256(vm-disk1.vmdk)= ${sha}\n`,
        'vm-disk1.vmdk': disk,
        'data.vmdk': Buffer.alloc(512),
      },
      ['vm.ovf', 'vm.mf', 'vm-disk1.vmdk', 'data.vmdk'],
    );
    expect(await inspectImportSource(path)).toMatchObject({
      kind: 'ova',
      bootDisk: 'vm-disk1.vmdk',
      descriptor: { cpus: 2, memoryMiB: 512, diskFiles: ['vm-disk1.vmdk', 'data.vmdk'] },
    });
    const target = join(temp.path, 'from-ova.qcow2');
    await importToQcow2(path, target, join(temp.path, 'scratch'));
    await sameContent(target);
  });

  it('refuses malformed OVAs with IMAGE_INVALID (or IMAGE_CORRUPT for a manifest mismatch)', async () => {
    const vmdk = await readFile(await convertFrom('vmdk'));
    const cases: [string, Promise<{ path: string }>, string][] = [
      ['no descriptor', ova('none', { 'a.vmdk': vmdk }, ['a.vmdk']), 'IMAGE_INVALID'],
      [
        'a disk the OVA lacks',
        ova('missing', { 'vm.ovf': ovf('absent.vmdk') }, ['vm.ovf']),
        'IMAGE_INVALID',
      ],
      [
        'not an OVF',
        ova('notovf', { 'vm.ovf': '<html></html>', 'a.vmdk': vmdk }, ['vm.ovf', 'a.vmdk']),
        'IMAGE_INVALID',
      ],
      [
        'entities',
        ova(
          'entity',
          {
            'vm.ovf': ovf('a.vmdk').replace(
              '<Envelope',
              '<!DOCTYPE x [<!ENTITY a "b">]>\n<Envelope',
            ),
            'a.vmdk': vmdk,
          },
          ['vm.ovf', 'a.vmdk'],
        ),
        'IMAGE_INVALID',
      ],
      [
        'a manifest mismatch',
        ova(
          'badsum',
          {
            'vm.ovf': ovf('a.vmdk'),
            'vm.mf': `SHA256(a.vmdk)= ${'0'.repeat(64)}\n`,
            'a.vmdk': vmdk,
          },
          ['vm.ovf', 'vm.mf', 'a.vmdk'],
        ),
        'IMAGE_CORRUPT',
      ],
    ];
    for (const [what, made, code] of cases) {
      const { path } = await made;
      await expect(
        importToQcow2(path, join(temp.path, 'never.qcow2'), join(temp.path, 'scratch')),
        what,
      ).rejects.toMatchObject({ code });
    }
  });

  it('refuses links and paths in an OVA, and a truncated one', async () => {
    const { path: good, dir } = await ova('links', { 'vm.ovf': ovf('a.vmdk') }, ['vm.ovf']);
    await symlink('/etc/passwd', join(dir, 'a.vmdk'));
    const linked = join(temp.path, 'linked.ova');
    await run('tar', ['--format=ustar', '-cf', linked, '-C', dir, 'vm.ovf', 'a.vmdk']);
    await expect(inspectImportSource(linked)).rejects.toMatchObject({ code: 'IMAGE_INVALID' });

    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'sub', 'a.vmdk'), 'x');
    const nested = join(temp.path, 'nested.ova');
    await run('tar', ['--format=ustar', '-cf', nested, '-C', dir, 'vm.ovf', 'sub/a.vmdk']);
    await expect(inspectImportSource(nested)).rejects.toMatchObject({ code: 'IMAGE_INVALID' });

    const dotdot = join(temp.path, 'dotdot.ova');
    await run('tar', [
      '--format=ustar',
      '-cf',
      dotdot,
      '-C',
      dir,
      '--transform=s,^vm.ovf$,../vm.ovf,',
      'vm.ovf',
    ]);
    await expect(inspectImportSource(dotdot)).rejects.toMatchObject({ code: 'IMAGE_INVALID' });

    const whole = await readFile(good);
    const truncated = join(temp.path, 'truncated.ova');
    await writeFile(truncated, whole.subarray(0, 700));
    await expect(inspectImportSource(truncated)).rejects.toMatchObject({ code: 'IMAGE_INVALID' });
  });

  it('refuses images that read other files: backing file, data file, VMDK extents elsewhere', async () => {
    const backed = join(temp.path, 'backed.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', raw, '-F', 'raw', backed]);
    const dataFile = join(temp.path, 'with-data.qcow2');
    await run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-o',
      `data_file=${join(temp.path, 'external.data')}`,
      dataFile,
      '4M',
    ]);
    const flat = join(temp.path, 'flat.vmdk');
    await run('qemu-img', [
      'create',
      '-q',
      '-f',
      'vmdk',
      '-o',
      'subformat=monolithicFlat',
      flat,
      '4M',
    ]);
    const pointing = join(temp.path, 'pointing.vmdk');
    await writeFile(
      pointing,
      (await readFile(flat, 'utf8')).replace(/"flat-flat\.vmdk"/, '"/etc/passwd"'),
    );
    for (const path of [backed, dataFile, flat, pointing]) {
      await expect(inspectImportSource(path), path).rejects.toMatchObject({
        code: 'IMAGE_INVALID',
      });
    }
    const text = join(temp.path, 'notes.txt');
    await writeFile(text, 'not a disk\n');
    await expect(inspectImportSource(text)).rejects.toMatchObject({ code: 'IMAGE_INVALID' });
  });

  it('reads an OVF whatever its namespace prefixes', () => {
    const prefixed = ovf('a.vmdk').replace(/<(\/?)(\w+)/g, (match, slash: string, tag: string) =>
      [
        'Envelope',
        'References',
        'File',
        'DiskSection',
        'Disk',
        'Info',
        'VirtualSystem',
        'VirtualHardwareSection',
        'Item',
      ].includes(tag)
        ? `<${slash}ovf:${tag}`
        : match,
    );
    expect(parseOvf(prefixed).diskFiles[0]).toBe('a.vmdk');
  });
});
