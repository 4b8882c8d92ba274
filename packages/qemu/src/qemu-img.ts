import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { DomainError } from '@novacron/domain';
import { runProgram } from './exec.js';

export interface QemuImgInfo {
  format: string;
  virtualSizeBytes: number;
  actualSizeBytes: number | null;
  backingFile: string | null;
  backingFormat: string | null;
  /** The whole `qemu-img info --output=json` object, for fields not mapped here. */
  raw: Record<string, unknown>;
}

export interface QemuImgOptions {
  /** Default `qemu-img`. */
  binary?: string;
  timeoutMs?: number;
}

/** Creates an empty qcow2 image of `sizeBytes`. */
export async function createQcow2(
  path: string,
  sizeBytes: number,
  options: QemuImgOptions = {},
): Promise<void> {
  assertPath(path);
  assertSize(sizeBytes);
  await qemuImg(['create', '-q', '-f', 'qcow2', path, String(sizeBytes)], options);
}

/**
 * Creates a qcow2 overlay on `backingFile` (which it never writes); `sizeBytes` may grow the
 * overlay beyond the backing file's size.
 */
export async function createOverlay(
  path: string,
  backingFile: string,
  backingFormat: string,
  sizeBytes?: number,
  options: QemuImgOptions = {},
): Promise<void> {
  assertPath(path);
  assertPath(backingFile);
  if (!/^[a-z0-9]+$/.test(backingFormat)) {
    throw new DomainError('VALIDATION_FAILED', `invalid backing format ${backingFormat}`);
  }
  const size = sizeBytes === undefined ? [] : [String(assertSize(sizeBytes))];
  await qemuImg(
    ['create', '-q', '-f', 'qcow2', '-b', backingFile, '-F', backingFormat, path, ...size],
    options,
  );
}

/** `qemu-img info --output=json`; `--force-share` so it also reads an image a running VM holds. */
export async function imageInfo(path: string, options: QemuImgOptions = {}): Promise<QemuImgInfo> {
  assertPath(path);
  const { stdout } = await qemuImg(['info', '--output=json', '--force-share', path], options);
  const raw = JSON.parse(stdout) as Record<string, unknown>;
  const text = (key: string) => (typeof raw[key] === 'string' ? raw[key] : null);
  return {
    format: text('format') ?? 'unknown',
    virtualSizeBytes: Number(raw['virtual-size']),
    actualSizeBytes: typeof raw['actual-size'] === 'number' ? raw['actual-size'] : null,
    backingFile: text('full-backing-filename') ?? text('backing-filename'),
    backingFormat: text('backing-filename-format'),
    raw,
  };
}

/** Formats accepted from outside (imports from other hypervisors); anything else is refused. */
export const IMPORTABLE_FORMATS = ['qcow2', 'raw', 'vmdk', 'vhdx', 'vpc', 'vdi'] as const;

/**
 * Inspects an image that came from outside before anything reads it as a disk: its format must be
 * importable and it must not name a backing file (which would let it read any file on the host).
 * The format is probed once here and then always passed explicitly.
 */
export async function inspectForeignImage(
  path: string,
  options: QemuImgOptions = {},
): Promise<QemuImgInfo> {
  const info = await imageInfo(path, options);
  if (!(IMPORTABLE_FORMATS as readonly string[]).includes(info.format)) {
    throw new DomainError('VALIDATION_FAILED', `image format ${info.format} cannot be imported`, {
      format: info.format,
      importable: IMPORTABLE_FORMATS,
    });
  }
  // Any file reads as raw (qemu-img rounds its size up); a disk is whole 512-byte sectors.
  const { size } = await stat(path);
  if (info.format === 'raw' && (size === 0 || size % 512 !== 0)) {
    throw new DomainError('VALIDATION_FAILED', 'the file is not a disk image', { sizeBytes: size });
  }
  if (info.backingFile !== null) {
    throw new DomainError('VALIDATION_FAILED', 'an imported image may not have a backing file', {
      backingFile: info.backingFile,
    });
  }
  return info;
}

/** Converts `source` (of the given format) into a standalone qcow2 at `target`. */
export async function convertToQcow2(
  source: string,
  sourceFormat: string,
  target: string,
  options: QemuImgOptions = {},
): Promise<void> {
  assertPath(source);
  assertPath(target);
  if (!(IMPORTABLE_FORMATS as readonly string[]).includes(sourceFormat)) {
    throw new DomainError('VALIDATION_FAILED', `image format ${sourceFormat} cannot be imported`);
  }
  await qemuImg(['convert', '-q', '-f', sourceFormat, '-O', 'qcow2', source, target], {
    timeoutMs: 3_600_000,
    ...options,
  });
}

/** Grows (or, with `shrink`, shrinks) an image that no running VM holds. */
export async function resizeImage(
  path: string,
  sizeBytes: number,
  options: QemuImgOptions & { shrink?: boolean } = {},
): Promise<void> {
  assertPath(path);
  assertSize(sizeBytes);
  const shrink = options.shrink ? ['--shrink'] : [];
  await qemuImg(['resize', '-q', ...shrink, path, String(sizeBytes)], options);
}

/**
 * Bytes allocated in the image's own layer (`qemu-img map`, depth 0 with data): what a mirror of
 * the top layer copies; its backing file is not counted. `--force-share` reads a disk a VM holds.
 */
export async function allocatedTopBytes(
  path: string,
  options: QemuImgOptions = {},
): Promise<number> {
  assertPath(path);
  const { stdout } = await qemuImg(
    ['map', '--output=json', '--force-share', '-f', 'qcow2', path],
    options,
  );
  const extents = JSON.parse(stdout) as { length: number; depth: number; data: boolean }[];
  return extents.reduce((sum, e) => (e.depth === 0 && e.data ? sum + e.length : sum), 0);
}

function qemuImg(args: string[], options: QemuImgOptions) {
  return runProgram(options.binary ?? 'qemu-img', args, {
    timeoutMs: options.timeoutMs ?? 60_000,
    failureCode: 'QEMU_FAILED',
  });
}

// Absolute paths only: a relative one starting with '-' would read as an option.
function assertPath(path: string): void {
  if (!isAbsolute(path) || /[\0\n]/.test(path)) {
    throw new DomainError('VALIDATION_FAILED', `image path must be absolute: ${path}`, { path });
  }
}

function assertSize(sizeBytes: number): number {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % 512 !== 0) {
    throw new DomainError(
      'INVALID_SIZE',
      `image size ${sizeBytes} is not a positive multiple of 512`,
      {
        sizeBytes,
      },
    );
  }
  return sizeBytes;
}
