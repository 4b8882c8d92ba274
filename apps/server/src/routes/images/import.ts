import { ImageImport, Operation } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerImageImport(app: ServerApp, deps: ServerDeps): void {
  app.post(
    '/api/v1/images',
    {
      config: { permission: 'image.import', scope: 'body' },
      schema: { body: ImageImport, response: { 202: Operation } },
    },
    async (request, reply) => {
      const operation = await deps.images.import(request.body);
      return reply.status(202).send(operation);
    },
  );
}
