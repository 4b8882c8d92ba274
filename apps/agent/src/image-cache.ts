import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IMAGE_FILES, type AgentVmSpec, type ImageFileName } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import type { AgentLogger } from './logger.js';
import { isValidVmId } from './paths.js';

/** Where a VM's image files are on this host. */
export interface ImageSource {
  /** The folder holding the image's files, fetched and verified first if need be. */
  ensure(image: AgentVmSpec['image']): Promise<string>;
}

/** Reads one file of an image from the server. */
export type ImageFetcher = (imageId: string, file: ImageFileName) => Promise<Readable>;

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Images pulled from the server on first use and kept by content: `<dir>/<id>/<sha256>/`. A
 * folder appears there only once every file has arrived and their SHA-256 (of the files
 * concatenated in the order of IMAGE_FILES) matches the spec's; it is never changed afterwards,
 * so disks that use it as a backing file stay valid when the image is replaced.
 */
export class ImageCache implements ImageSource {
  private readonly pulls = new Map<string, Promise<string>>();

  constructor(
    private readonly options: {
      dir: string;
      /** Absent: only images already cached can be used (no server to pull from). */
      fetch?: ImageFetcher;
      logger: AgentLogger;
    },
  ) {}

  async ensure(image: AgentVmSpec['image']): Promise<string> {
    // The id is checked by the schema already; it becomes a path, so look again.
    if (!isValidVmId(image.id)) {
      throw new DomainError('VALIDATION_FAILED', `invalid image id ${image.id.slice(0, 80)}`);
    }
    if (!SHA256.test(image.sha256)) {
      throw new DomainError('IMAGE_NOT_READY', `image ${image.name} has no SHA-256 to check`, {
        image: image.id,
      });
    }
    const dir = join(this.options.dir, image.id, image.sha256);
    if (await exists(dir)) return dir;
    const key = `${image.id}/${image.sha256}`;
    let pull = this.pulls.get(key);
    if (pull === undefined) {
      pull = this.pull(image, dir).finally(() => this.pulls.delete(key));
      this.pulls.set(key, pull);
    }
    return pull;
  }

  private async pull(image: AgentVmSpec['image'], dir: string): Promise<string> {
    const { fetch, logger } = this.options;
    if (fetch === undefined) {
      throw new DomainError('IMAGE_NOT_FOUND', `image ${image.name} is not cached on this host`, {
        image: image.id,
      });
    }
    const started = Date.now();
    await removeLeftovers(dirname(dir), `${image.sha256}.`);
    const partial = `${dir}.${randomBytes(4).toString('hex')}.partial`;
    await mkdir(partial, { recursive: true });
    try {
      const hash = createHash('sha256');
      let bytes = 0;
      for (const file of IMAGE_FILES[image.kind]) {
        await pipeline(
          await fetch(image.id, file),
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              hash.update(chunk);
              bytes += chunk.length;
              yield chunk;
            }
          },
          createWriteStream(join(partial, file), { mode: 0o644 }),
        );
      }
      const sha256 = hash.digest('hex');
      if (sha256 !== image.sha256) {
        throw new DomainError(
          'IMAGE_CORRUPT',
          `image ${image.name} from the server has SHA-256 ${sha256}, not ${image.sha256}`,
          { image: image.id, expected: image.sha256, actual: sha256 },
        );
      }
      await rename(partial, dir);
      logger.info(
        { image: image.name, id: image.id, bytes, ms: Date.now() - started },
        'image pulled from the server',
      );
      return dir;
    } catch (error) {
      await rm(partial, { recursive: true, force: true });
      throw error;
    }
  }
}

/** Half-pulled folders an earlier agent left when it stopped mid-pull. */
async function removeLeftovers(dir: string, prefix: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const entry of entries) {
    if (entry.startsWith(prefix) && entry.endsWith('.partial')) {
      await rm(join(dir, entry), { recursive: true, force: true });
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
