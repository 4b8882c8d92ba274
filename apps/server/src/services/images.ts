import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createReadStream } from 'node:fs';
import {
  IMAGE_FILES,
  type Image,
  type ImageImport,
  type ImageKind,
  type ImageUploadQuery,
  type Operation,
} from '@novacron/api';
import { assertValidName, DomainError } from '@novacron/domain';
import { imageInfo, importToQcow2, inspectImportSource } from '@novacron/qemu';
import { DEFAULT_PROJECT, type Store } from '@novacron/store';
import {
  cancelled,
  type OperationContext,
  type OperationRunner,
  type RecoveryPlan,
} from './operations.js';

/** Nothing larger is downloaded: a bound on what one import may write to the server's disk. */
export const MAX_IMAGE_DOWNLOAD_BYTES = 64 * 1024 ** 3;

interface Download {
  url: string;
  file: string;
  /** Expected SHA-256 of the bytes served, checked before anything reads the file. */
  sha256?: string;
}

/** Images in the server's image store: import by URL (on the server, never on hosts), delete. */
export class ImageService {
  constructor(
    private readonly store: Store,
    private readonly operations: OperationRunner,
    /** One folder per image id, holding the files of IMAGE_FILES[kind]. */
    private readonly imageDir: string,
  ) {}

  async get(idOrName: string, project = DEFAULT_PROJECT): Promise<Image> {
    const image = await this.store.images.get(project, idOrName);
    if (image === undefined) {
      throw new DomainError('IMAGE_NOT_FOUND', `image '${idOrName}' not found`, {
        image: idOrName,
      });
    }
    return image;
  }

  /** Records the image as importing and downloads it in an operation. */
  async import(input: ImageImport): Promise<Operation> {
    assertValidName(input.name, 'image name');
    const { kind, downloads } = plan(input);
    const image = await this.store.images.create({
      name: input.name,
      project: input.project ?? DEFAULT_PROJECT,
      kind,
      status: 'importing',
      sizeBytes: 0,
      defaultKernelArgs: input.defaultKernelArgs ?? '',
      sha256: '',
    });
    const target = {
      type: 'image' as const,
      id: image.id,
      name: image.name,
      project: image.project,
    };
    return this.operations.start('image.import', target, async (context) => {
      try {
        return await this.fetch(image, downloads, context);
      } catch (error) {
        await this.discard(image.id);
        if (context.signal.aborted) throw cancelled(`import of image ${image.name}`);
        throw error;
      }
    });
  }

  async delete(idOrName: string): Promise<Image> {
    const image = await this.get(idOrName);
    if (image.status === 'importing') {
      throw new DomainError(
        'VM_INVALID_STATE',
        `image ${image.name} is being imported: cancel its operation first`,
      );
    }
    await this.store.images.delete(image.id);
    await rm(join(this.imageDir, image.id), { recursive: true, force: true });
    return image;
  }

  /** An import cut short by a server stop is not resumed: its partial files are discarded. */
  recoveryPlans(): { 'image.import': RecoveryPlan } {
    return {
      'image.import': (operation) =>
        Promise.resolve({
          rollback: async () => {
            await this.discard(operation.target.id);
            return `the partial download of image ${operation.target.name} was discarded`;
          },
        }),
    };
  }

  private async fetch(image: Image, downloads: Download[], context: OperationContext) {
    const dir = join(this.imageDir, image.id);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    let done = 0;
    let imported: ImportedDisk | undefined;
    for (const download of downloads) {
      const share = 90 / downloads.length;
      await context.phase(`downloading ${download.file}`, Math.round(done * share));
      const part = join(dir, `${download.file}.download`);
      const digest = await downloadTo(download.url, part, context, (fraction) =>
        context.phase(`downloading ${download.file}`, Math.round((done + fraction) * share)),
      );
      if (download.sha256 !== undefined && digest !== download.sha256) {
        throw new DomainError(
          'IMAGE_CORRUPT',
          `${download.url} does not have the expected SHA-256: expected ${download.sha256}, got ${digest}`,
          { url: download.url, expected: download.sha256, actual: digest },
        );
      }
      if (download.file === 'disk.qcow2') {
        await context.phase('converting to qcow2', 92);
        imported = await this.convert(part, dir, context);
      } else {
        await rename(part, join(dir, download.file));
      }
      done += 1;
      if (context.signal.aborted) throw cancelled(`import of image ${image.name}`);
    }
    await context.phase('checksumming', 96);
    const { sha256, sizeBytes } = await checksum(dir, image.kind);
    await this.store.images.update(image.id, { status: 'ready', sha256, sizeBytes });
    return { image: image.id, sha256, sizeBytes, ...imported };
  }

  /**
   * Imports a file sent in the request body: streamed to the image store (bounded, hashed),
   * checked (an OVA with its boot disk, or a self-contained disk image of an allowed format)
   * before anything is stored, then converted to qcow2 in an operation. Bad input stores nothing.
   */
  async upload(query: ImageUploadQuery, body: Readable): Promise<Operation> {
    assertValidName(query.name, 'image name');
    const project = query.project ?? DEFAULT_PROJECT;
    if ((await this.store.images.get(project, query.name)) !== undefined) {
      throw new DomainError('IMAGE_NAME_TAKEN', `image '${query.name}' already exists`, {
        image: query.name,
      });
    }
    const uploads = join(this.imageDir, '.uploads');
    await mkdir(uploads, { recursive: true });
    const file = join(uploads, `${randomBytes(8).toString('hex')}.upload`);
    try {
      const digest = await receiveTo(body, file);
      if (query.sha256 !== undefined && digest !== query.sha256) {
        throw new DomainError(
          'IMAGE_INVALID',
          `the upload does not have the expected SHA-256: expected ${query.sha256}, got ${digest}`,
          { expected: query.sha256, actual: digest },
        );
      }
      await inspectImportSource(file);
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    }
    let image: Image;
    try {
      image = await this.store.images.create({
        name: query.name,
        project,
        kind: 'disk',
        status: 'importing',
        sizeBytes: 0,
        defaultKernelArgs: '',
        sha256: '',
      });
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    }
    const target = { type: 'image' as const, id: image.id, name: image.name, project };
    return this.operations.start('image.import', target, async (context) => {
      try {
        const dir = join(this.imageDir, image.id);
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });
        await context.phase('converting to qcow2', 10);
        const imported = await this.convert(file, dir, context);
        await context.phase('checksumming', 96);
        const { sha256, sizeBytes } = await checksum(dir, image.kind);
        await this.store.images.update(image.id, { status: 'ready', sha256, sizeBytes });
        return { image: image.id, sha256, sizeBytes, ...imported };
      } catch (error) {
        await this.discard(image.id);
        if (context.signal.aborted) throw cancelled(`import of image ${image.name}`);
        throw error;
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  /**
   * The file as received (a disk image or an OVA) into the image's `disk.qcow2`; `source` goes.
   * Answers what a VM made from it needs: the disk's virtual size and, from an OVA's descriptor,
   * the vCPUs and memory the appliance was made for (`image import --vm` sizes the VM by them).
   */
  private async convert(
    source: string,
    dir: string,
    context: OperationContext,
  ): Promise<ImportedDisk> {
    const target = join(dir, 'disk.qcow2.part');
    const found = await importToQcow2(source, target, join(dir, 'ova-disk.part'), context.signal);
    const { virtualSizeBytes } = await imageInfo(target);
    let ovf: ImportedDisk['ovf'];
    if (found.kind === 'ova') {
      await context.phase(`converted the OVA's boot disk ${found.bootDisk}`, 94);
      const { cpus, memoryMiB } = found.descriptor;
      ovf = { bootDisk: found.bootDisk, cpus, memoryMiB };
    }
    await rename(target, join(dir, 'disk.qcow2'));
    await rm(source, { force: true });
    return { virtualSizeBytes, ...(ovf === undefined ? {} : { ovf }) };
  }

  private async discard(imageId: string): Promise<void> {
    await rm(join(this.imageDir, imageId), { recursive: true, force: true });
    await this.store.images.update(imageId, { status: 'failed' });
  }
}

/** What an uploaded or downloaded disk turned out to be; part of the import's result. */
interface ImportedDisk {
  virtualSizeBytes: number;
  ovf?: { bootDisk: string; cpus: number | null; memoryMiB: number | null };
}

function plan(input: ImageImport): { kind: ImageKind; downloads: Download[] } {
  const kernelPair = input.kernelUrl !== undefined || input.initrdUrl !== undefined;
  const kernelSums = input.kernelSha256 !== undefined || input.initrdSha256 !== undefined;
  if (input.url !== undefined && !kernelPair && !kernelSums) {
    return {
      kind: 'disk',
      downloads: [{ url: input.url, file: 'disk.qcow2', ...withSha256(input.sha256) }],
    };
  }
  if (
    input.url === undefined &&
    input.sha256 === undefined &&
    input.kernelUrl !== undefined &&
    input.initrdUrl !== undefined
  ) {
    return {
      kind: 'kernel',
      downloads: [
        { url: input.kernelUrl, file: 'vmlinuz', ...withSha256(input.kernelSha256) },
        { url: input.initrdUrl, file: 'initrd.img', ...withSha256(input.initrdSha256) },
      ],
    };
  }
  if (input.sha256 !== undefined || kernelSums) {
    throw new DomainError(
      'VALIDATION_FAILED',
      'sha256 goes with url; kernelSha256 and initrdSha256 with kernelUrl and initrdUrl',
      { fields: ['sha256', 'kernelSha256', 'initrdSha256'] },
    );
  }
  throw new DomainError(
    'VALIDATION_FAILED',
    'give either url, or kernelUrl and initrdUrl together',
    {
      fields: ['url', 'kernelUrl', 'initrdUrl'],
    },
  );
}

function withSha256(sha256: string | undefined): { sha256?: string } {
  return sha256 === undefined ? {} : { sha256 };
}

/**
 * Streams `url` to `path`, bounded in size, reporting the fraction done when the size is known;
 * returns the SHA-256 of the bytes received, hashed as they pass.
 */
async function downloadTo(
  url: string,
  path: string,
  context: OperationContext,
  onProgress: (fraction: number) => Promise<void>,
): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: context.signal, redirect: 'follow' });
  } catch (error) {
    if (context.signal.aborted) throw error;
    throw new DomainError('IMAGE_DOWNLOAD_FAILED', `could not download ${url}: ${reason(error)}`, {
      url,
    });
  }
  if (!response.ok || response.body === null) {
    throw new DomainError('IMAGE_DOWNLOAD_FAILED', `${url} answered ${response.status}`, {
      url,
      status: response.status,
    });
  }
  const total = Number(response.headers.get('content-length') ?? NaN);
  if (total > MAX_IMAGE_DOWNLOAD_BYTES) {
    throw new DomainError(
      'IMAGE_DOWNLOAD_FAILED',
      `${url} is larger than the ${MAX_IMAGE_DOWNLOAD_BYTES} byte limit`,
    );
  }
  let received = 0;
  let reported = 0;
  const hash = createHash('sha256');
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      hash.update(chunk);
      if (received > MAX_IMAGE_DOWNLOAD_BYTES) {
        callback(new DomainError('IMAGE_DOWNLOAD_FAILED', `${url} exceeded the size limit`));
        return;
      }
      // Progress is recorded at most every 5 % so the store is not flooded.
      const fraction = Number.isFinite(total) && total > 0 ? received / total : 0;
      if (fraction - reported >= 0.05) {
        reported = fraction;
        onProgress(fraction).then(() => callback(null, chunk), callback);
        return;
      }
      callback(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body), meter, createWriteStream(path), {
      signal: context.signal,
    });
  } catch (error) {
    if (error instanceof DomainError || context.signal.aborted) throw error;
    throw new DomainError(
      'IMAGE_DOWNLOAD_FAILED',
      `download of ${url} broke off: ${reason(error)}`,
      { url },
    );
  }
  return hash.digest('hex');
}

/** An upload's body into `path`, bounded in size; returns the SHA-256 of its bytes. */
async function receiveTo(body: Readable, path: string): Promise<string> {
  let received = 0;
  const hash = createHash('sha256');
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > MAX_IMAGE_DOWNLOAD_BYTES) {
        callback(
          new DomainError(
            'PAYLOAD_TOO_LARGE',
            `an uploaded image is at most ${MAX_IMAGE_DOWNLOAD_BYTES} bytes`,
          ),
        );
        return;
      }
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(body, meter, createWriteStream(path));
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw new DomainError('VALIDATION_FAILED', `the upload broke off: ${reason(error)}`);
  }
  if (received === 0) throw new DomainError('IMAGE_INVALID', 'the upload is empty');
  return hash.digest('hex');
}

/** The image's SHA-256 over its files in IMAGE_FILES order, as agents verify it. */
async function checksum(
  dir: string,
  kind: ImageKind,
): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for (const file of IMAGE_FILES[kind]) {
    const path = join(dir, file);
    sizeBytes += (await stat(path)).size;
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
