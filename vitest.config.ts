import { defineConfig } from 'vitest/config';

// Three tiers: unit (fast, beside the code), integration (real QEMU and databases, one file at a
// time), e2e (the built CLI and server as processes). The JSON report feeds .ci/run's summary line.
const sourceFirst = { conditions: ['source'] };

export default defineConfig({
  resolve: sourceFirst,
  test: {
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
    projects: [
      {
        resolve: sourceFirst,
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['{apps,packages}/*/src/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/*.e2e.test.ts', '**/node_modules/**', '**/dist/**'],
          testTimeout: 10_000,
        },
      },
      {
        resolve: sourceFirst,
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
        resolve: sourceFirst,
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
    ],
  },
});
