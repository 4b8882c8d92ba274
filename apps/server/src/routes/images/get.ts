import { IdOrNameParams, Image } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { DEFAULT_PROJECT } from '@novacron/store';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerImageGet(app: ServerApp, deps: ServerDeps): void {
  app.get(
    '/api/v1/images/:id',
    {
      config: { permission: 'image.read', scope: 'image' },
      schema: { params: IdOrNameParams, response: { 200: Image } },
    },
    async (request) => {
      const image = await deps.store.images.get(DEFAULT_PROJECT, request.params.id);
      if (image === undefined) {
        throw new DomainError('IMAGE_NOT_FOUND', `image '${request.params.id}' not found`);
      }
      return image;
    },
  );
}
