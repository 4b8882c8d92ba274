import { ImagePage } from '@novacron/api';
import type { ServerApp, ServerDeps } from '../../deps.js';
import { DEFAULT_PROJECT } from '../../services/vms.js';

export function registerImageList(app: ServerApp, deps: ServerDeps): void {
  app.get('/api/v1/images', { schema: { response: { 200: ImagePage } } }, async () => ({
    items: await deps.store.images.list(DEFAULT_PROJECT),
    nextCursor: null,
  }));
}
