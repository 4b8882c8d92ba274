import { defineConfig } from 'vitest/config';

// Four tiers: unit (fast, beside the code), integration (real QEMU and databases, one file at a
// time), e2e (the built CLI and server as processes), guest-os (real guest operating systems,
// minutes each). The JSON report feeds .ci/run's summary line.
//
// Workspace packages export a `source` condition (src/index.ts) ahead of `default` (dist/), so
// tests run the TypeScript source, never a stale build. Tests run in Vite's ssr environment,
// whose conditions come from `ssr.resolve.conditions`; top-level `resolve.conditions` reaches
// only the client environment. Vitest's defaults (`node`, `development|production`) are kept,
// and `import`/`default` are always matched.
const sourceFirst = {
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
};

export default defineConfig({
  ...sourceFirst,
  test: {
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
    projects: [
      {
        ...sourceFirst,
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['{apps,packages}/*/src/**/*.test.ts'],
          exclude: [
            '**/*.int.test.ts',
            '**/*.e2e.test.ts',
            '**/*.guest.test.ts',
            '**/node_modules/**',
            '**/dist/**',
          ],
          testTimeout: 10_000,
        },
      },
      {
        ...sourceFirst,
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['{apps,packages}/*/src/**/*.int.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        ...sourceFirst,
        test: {
          name: 'e2e',
          sequence: { groupOrder: 2 },
          include: ['{apps,packages}/*/src/**/*.e2e.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        ...sourceFirst,
        test: {
          // Real guest operating systems (a debootstrapped Debian with cloud-init): minutes, not
          // seconds, under TCG; the image is built once and cached (the test cache, outside the checkout) by its recipe.
          name: 'guest-os',
          sequence: { groupOrder: 3 },
          include: ['{apps,packages}/*/src/**/*.guest.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**'],
          fileParallelism: false,
          testTimeout: 1_200_000,
          hookTimeout: 1_800_000,
        },
      },
    ],
  },
});
