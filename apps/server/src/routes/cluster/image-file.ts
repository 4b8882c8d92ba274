import { createReadStream, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_PROJECT } from '@novacron/store';
import { ErrorBody, IMAGE_FILES, ImageFileParams } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { Type } from 'typebox';
import type { ClusterApp, ClusterDeps } from '../../cluster-app.js';

/**
 * One file of an image from the image store, streamed to an agent that caches it. The file name
 * comes from a fixed list (schema) and must belong to the image's kind; the id must be an image's.
 */
export function registerClusterImageFile(app: ClusterApp, deps: ClusterDeps): void {
  app.get(
    '/cluster/v1/images/:id/:file',
    {
      schema: {
        params: ImageFileParams,
        // Streamed as is: Fastify serialises no stream.
        response: {
          200: Type.Unsafe<ReadStream>({ type: 'string', format: 'binary' }),
          '4xx': ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { id, file } = request.params;
      const image = await deps.store.images.get(DEFAULT_PROJECT, id);
      // Only an id: a name is per project, and an agent always knows the id.
      if (image === undefined || image.id !== id) {
        throw new DomainError('IMAGE_NOT_FOUND', `image ${id} not found`, { image: id });
      }
      if (image.status !== 'ready') {
        throw new DomainError('IMAGE_NOT_READY', `image ${image.name} is ${image.status}`, {
          image: id,
          status: image.status,
        });
      }
      if (!(IMAGE_FILES[image.kind] as readonly string[]).includes(file)) {
        throw new DomainError('IMAGE_NOT_FOUND', `a ${image.kind} image has no file ${file}`, {
          image: id,
          file,
        });
      }
      const path = join(deps.imageDir, image.id, file);
      const info = await stat(path).catch(() => undefined);
      if (info === undefined || !info.isFile()) {
        throw new DomainError(
          'IMAGE_NOT_FOUND',
          `image ${image.name} has no ${file} in the store`,
          {
            image: id,
            file,
          },
        );
      }
      return reply
        .type('application/octet-stream')
        .header('content-length', info.size)
        .send(createReadStream(path));
    },
  );
}
