import { rm } from 'node:fs/promises';
import { MAX_VM_DISK_GIB } from '@novacron/api';
import { DomainError, isDomainError } from '@novacron/domain';
import { extractOvaBootDisk, inspectOva, isTarFile, type OvfDescriptor } from './ova.js';
import { convertToQcow2, inspectForeignImage, type QemuImgInfo } from './qemu-img.js';

// Images from other hypervisors (VMware VMDK and OVA, Hyper-V VHD and VHDX, VirtualBox VDI, raw,
// qcow2), checked before anything reads them as a disk and converted to a standalone qcow2.

/** No imported disk is larger than the largest VM disk. */
export const MAX_IMPORT_VIRTUAL_BYTES = MAX_VM_DISK_GIB * 1024 ** 3;

/** What a file given for import is. */
export type ImportSource =
  | { kind: 'disk'; format: string; virtualSizeBytes: number }
  | { kind: 'ova'; bootDisk: string; bootDiskBytes: number; descriptor: OvfDescriptor };

/**
 * Checks a file given for import without converting it: an OVA (tar) must hold one OVF whose boot
 * disk is in it; a disk image must be of an importable format, self-contained and within the
 * size bound. Everything refused is IMAGE_INVALID (a 400), with the reason.
 */
export async function inspectImportSource(path: string): Promise<ImportSource> {
  if (await isTarFile(path)) {
    const { descriptor, bootDisk, bootDiskBytes } = await inspectOva(path);
    return { kind: 'ova', descriptor, bootDisk, bootDiskBytes };
  }
  const info = await inspectDisk(path);
  return { kind: 'disk', format: info.format, virtualSizeBytes: info.virtualSizeBytes };
}

/**
 * Converts a file given for import into a standalone qcow2 at `target`. An OVA's boot disk is
 * first copied out to `scratch` (removed afterwards) and checked like any disk image.
 */
export async function importToQcow2(
  source: string,
  target: string,
  scratch: string,
  signal?: AbortSignal,
): Promise<ImportSource> {
  const found = await inspectImportSource(source);
  if (found.kind === 'disk') {
    await convertToQcow2(source, found.format, target);
    return found;
  }
  try {
    await extractOvaBootDisk(source, scratch, signal);
    const info = await inspectDisk(scratch);
    await convertToQcow2(scratch, info.format, target);
    return found;
  } finally {
    await rm(scratch, { force: true });
  }
}

/**
 * inspectForeignImage plus what makes an image read other files of the host: a qcow2 external
 * data file, VMDK extents in other files (a descriptor VMDK). Its refusals become IMAGE_INVALID.
 */
export async function inspectDisk(path: string): Promise<QemuImgInfo> {
  let info: QemuImgInfo;
  try {
    info = await inspectForeignImage(path);
  } catch (error) {
    if (
      isDomainError(error) &&
      (error.code === 'VALIDATION_FAILED' || error.code === 'QEMU_FAILED')
    ) {
      throw new DomainError('IMAGE_INVALID', `not an importable disk image: ${error.message}`, {
        ...error.details,
      });
    }
    throw error;
  }
  assertSelfContained(path, info);
  if (!Number.isSafeInteger(info.virtualSizeBytes) || info.virtualSizeBytes <= 0) {
    throw new DomainError('IMAGE_INVALID', 'the image has no usable virtual size');
  }
  if (info.virtualSizeBytes > MAX_IMPORT_VIRTUAL_BYTES) {
    throw new DomainError(
      'IMAGE_INVALID',
      `the image's virtual size ${info.virtualSizeBytes} is over the ${MAX_IMPORT_VIRTUAL_BYTES}-byte limit`,
      { virtualSizeBytes: info.virtualSizeBytes },
    );
  }
  return info;
}

/** Refuses images that name other files: a qcow2 data file, VMDK extents elsewhere. */
export function assertSelfContained(path: string, info: QemuImgInfo): void {
  const specific = info.raw['format-specific'] as
    { type?: string; data?: Record<string, unknown> } | undefined;
  const data = specific?.data ?? {};
  if (typeof data['data-file'] === 'string') {
    throw new DomainError('IMAGE_INVALID', 'an imported image may not have an external data file', {
      dataFile: data['data-file'],
    });
  }
  const extents = Array.isArray(data.extents) ? (data.extents as { filename?: unknown }[]) : [];
  for (const extent of extents) {
    if (extent.filename !== path) {
      throw new DomainError(
        'IMAGE_INVALID',
        'an imported VMDK must be one self-contained file (its extents name other files)',
        { extent: String(extent.filename) },
      );
    }
  }
}
