import { PHASE_DEVELOPMENT_SERVER } from 'next/constants.js';

// The dashboard is a static export (docs/adr/0025-web-build-and-serving.md): `next build` writes
// plain files to out/, which the server serves at `/`. Pages that show one resource read its id
// from the query string (`/vms/view?id=...`), so every route is known at build time.
// `next dev` (port 8092) forwards the API to a server on NOVACRON_DEV_API (default :8090).
export default function config(phase) {
  if (phase === PHASE_DEVELOPMENT_SERVER) {
    const api = process.env.NOVACRON_DEV_API ?? 'http://127.0.0.1:8090';
    return {
      reactStrictMode: true,
      rewrites: () =>
        Promise.resolve([{ source: '/api/:path*', destination: `${api}/api/:path*` }]),
    };
  }
  return {
    output: 'export',
    reactStrictMode: true,
    images: { unoptimized: true },
    // A build leaves no trace of the build machine in the files it serves.
    poweredByHeader: false,
  };
}
