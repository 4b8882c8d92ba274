import { ImagePage } from '@novacron/api';
import { DEFAULT_PROJECT } from '@novacron/store';
import type { ServerApp, ServerDeps } from '../../deps.js';

export function registerImageList(app: ServerApp, deps: ServerDeps): void {
  app.get('/api/v1/images', { schema: { response: { 200: ImagePage } } }, async () => ({
    items: await deps.store.images.list(DEFAULT_PROJECT),
    nextCursor: null,
  }));
}
