import { Type } from 'typebox';
import type { ServerApp } from '../deps.js';

export function registerHealth(app: ServerApp): void {
  app.get(
    '/healthz',
    { schema: { response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    () => ({ status: 'ok' as const }),
  );
}
