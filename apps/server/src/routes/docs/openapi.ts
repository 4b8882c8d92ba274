import { createRequire } from 'node:module';
import { Type } from 'typebox';
import { isPublicPath } from '../../authenticate.js';
import type { ServerApp } from '../../deps.js';
import { buildOpenApiDocument, recordedRoutes, type OpenApiDocument } from '../../openapi.js';

export const OPENAPI_PATH = '/api/v1/openapi.json';

// The same relative path from src/ and dist/.
const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

/** The document of every route registered on `app`, built once all are (on first use). */
export function openApiDocumentOf(app: ServerApp): () => OpenApiDocument {
  let document: OpenApiDocument | undefined;
  return () =>
    (document ??= buildOpenApiDocument(recordedRoutes(app), { version, isPublic: isPublicPath }));
}

/** GET /api/v1/openapi.json: the OpenAPI 3.1 document, public. */
export function registerOpenApi(app: ServerApp): void {
  const documentOf = openApiDocumentOf(app);
  app.get(
    OPENAPI_PATH,
    {
      config: { permission: 'public' },
      schema: {
        summary: 'The OpenAPI 3.1 document of this API',
        response: {
          200: Type.Record(Type.String(), Type.Unknown(), {
            description: 'An OpenAPI 3.1 document',
          }),
        },
      },
    },
    () => documentOf() as unknown as Record<string, unknown>,
  );
}
