/**
 * @novacron/server — the control plane's composition root: config -> store -> services -> routes ->
 * listen. Wires the concrete adapters; the pure packages and the contract come in from below.
 */
export { buildApp } from './app.js';
export type { ServerApp, ServerDeps } from './deps.js';
export type { OpenApiDocument } from './openapi.js';
export { describeApi } from './openapi-describe.js';
export { renderApiReference } from './openapi-markdown.js';
export { ADMIN_PASSWORD_FILE, ADMIN_USERNAME, TINY_IMAGE } from './services/bootstrap.js';
export { startServer, type RunningServer, type ServerOptions } from './server.js';
export { isWebUiBuilt } from './web-ui.js';
