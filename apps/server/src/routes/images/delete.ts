import { IdOrNameParams, Image } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerImageDelete(app: ServerApp, deps: ServerDeps): void {
  app.delete(
    '/api/v1/images/:id',
    {
      config: { permission: 'image.delete', scope: 'image' },
      schema: { params: IdOrNameParams, response: { 200: Image } },
    },
    async (request) => deps.images.delete(request.params.id),
  );
}
