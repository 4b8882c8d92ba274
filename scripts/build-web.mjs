// Builds the web dashboard (apps/web, a Next.js static export) into apps/web/out, which the
// server serves at `/` (docs/adr/0025-web-build-and-serving.md). Skips the build when out/ is
// newer than every source it comes from; `--force` builds anyway. Run after `tsc -b`: the
// dashboard imports @novacron/client and @novacron/api from their dist/.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const web = join(root, 'apps/web');
const marker = join(web, 'out/index.html');
const sources = [
  'apps/web/src',
  'apps/web/package.json',
  'apps/web/next.config.mjs',
  'apps/web/postcss.config.mjs',
  'apps/web/tsconfig.json',
  'packages/api/dist',
  'packages/client/dist',
].map((path) => join(root, path));

/** The newest modification time under `path` (a file or a folder), 0 when absent. */
function newest(path) {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return 0;
  }
  if (!stats.isDirectory()) return stats.mtimeMs;
  let latest = stats.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry === '.tsbuildinfo') continue;
    latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

const built = newest(marker);
const changed = Math.max(...sources.map(newest));
if (!process.argv.includes('--force') && built > 0 && built >= changed) {
  console.error('novacron: web UI is up to date (apps/web/out)');
  process.exit(0);
}
console.error('novacron: building the web UI (apps/web -> apps/web/out)');
const result = spawnSync('npx', ['next', 'build'], {
  cwd: web,
  stdio: 'inherit',
  env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
});
process.exit(result.status ?? 1);
