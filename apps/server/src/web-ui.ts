import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, posix, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The web dashboard, served at `/` without authentication (ARCHITECTURE.md §7): the static export
 * of apps/web (docs/adr/0025-web-build-and-serving.md). A path names a file of the export, or a
 * page (`/vms` -> `vms.html`); any other path gets the app shell's not-found page. The pages hold
 * no data: everything they show comes from the API, with the user's token.
 */

/** apps/web/out, from this file in src/ or dist/ (the same depth). */
export function defaultWebUiDir(): string {
  return fileURLToPath(new URL('../../web/out', import.meta.url));
}

/** Whether the dashboard is built (the export's index page exists). */
export function isWebUiBuilt(dir: string = defaultWebUiDir()): boolean {
  return existsSync(join(dir, 'index.html'));
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.map': 'application/json',
  '.webmanifest': 'application/manifest+json',
};

// Inline scripts and styles: the export's own bootstrap scripts and the theme switch.
// Connections go to this origin only (the API and its WebSockets).
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NovaCron</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}
code{background:#8882;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>The NovaCron web UI is not built</h1>
<p>The API works (<a href="/api/docs">reference</a>); the dashboard needs a build first.
From the NovaCron checkout, run <code>npm run build:web</code> (or <code>npm start</code>, which
builds it), then reload this page.</p></body></html>
`;

/** Whether the request is for the dashboard: a GET or HEAD of a path outside the API. */
export function isWebUiRequest(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (request.headers.upgrade !== undefined) return false;
  const path = request.url.split('?', 1)[0] ?? '';
  return path !== '/api' && !path.startsWith('/api/');
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The file of the export that answers `urlPath`, or undefined; never a path outside `root`. */
export async function resolveWebUiFile(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const normal = posix.normalize(`/${decoded}`);
  if (normal.split('/').includes('..')) return undefined;
  const base = resolve(root);
  const candidates =
    normal === '/'
      ? ['index.html']
      : normal.endsWith('/')
        ? [`${normal}index.html`]
        : [normal, `${normal}.html`, `${normal}/index.html`];
  for (const candidate of candidates) {
    const path = resolve(join(base, candidate));
    if (path !== base && !path.startsWith(base + sep)) continue;
    if (await isFile(path)) return path;
  }
  return undefined;
}

/** Answers a dashboard request from `root` (the export), or says how to build it. */
export function webUiHandler(root: string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    void reply.headers(SECURITY_HEADERS);
    if (!(await isFile(join(root, 'index.html')))) {
      await reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
      return;
    }
    const path = request.url.split('?', 1)[0] ?? '/';
    const file = await resolveWebUiFile(root, path);
    // Unknown paths get the shell's not-found page, which links back into the dashboard.
    const answer = file ?? join(root, '404.html');
    const status = file === undefined ? 404 : 200;
    const body = await readFile(answer);
    const type = TYPES[extname(answer)] ?? 'application/octet-stream';
    // Build output under _next/static is named by content hash; pages must be revalidated.
    const cache = path.startsWith('/_next/static/')
      ? 'public, max-age=31536000, immutable'
      : 'no-cache';
    await reply.code(status).type(type).header('cache-control', cache).send(body);
  };
}
