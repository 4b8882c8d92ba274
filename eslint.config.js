// Lint is where the layering of ARCHITECTURE.md section 2 is enforced.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const workspace = [
  'api',
  'domain',
  'scheduler',
  'migration',
  'store',
  'auth',
  'qmp',
  'qemu',
  'backup',
  'telemetry',
  'config',
  'client',
  'testkit',
  'server',
  'agent',
  'cli',
];

/** What each layer may import from the workspace (ARCHITECTURE.md section 2, "may import"). */
const layers = {
  'packages/api': [],
  'packages/domain': ['api'],
  'packages/scheduler': ['api', 'domain'],
  'packages/migration': ['api', 'domain'],
  'packages/client': ['api'],
  'packages/config': [],
  'packages/qmp': [],
  'packages/store': ['api', 'domain'],
  'packages/auth': ['api', 'domain'],
  'packages/qemu': ['api', 'domain', 'qmp'],
  'packages/telemetry': ['api', 'domain', 'config'],
};

/** Pure packages: no IO, no clock, no randomness. */
const purePackages = [
  'packages/api',
  'packages/domain',
  'packages/scheduler',
  'packages/migration',
];

const ioModules = [
  'fs',
  'fs/promises',
  'net',
  'child_process',
  'http',
  'https',
  'os',
  'dgram',
  'tls',
  'worker_threads',
].flatMap((m) => [m, `node:${m}`]);
const drivers = ['pg', 'better-sqlite3', 'kysely', 'ioredis', 'redis', 'fastify'];

const deepImport = {
  group: ['@novacron/*/src/*', '@novacron/*/dist/*'],
  message: 'Import a package through its index, never a deep path.',
};

const envSelector = {
  selector: "MemberExpression[object.name='process'][property.name='env']",
  message: 'Read settings through @novacron/config (ARCHITECTURE.md §8).',
};

function importRule(dir) {
  const forbidden = workspace.filter((name) => !layers[dir].includes(name));
  const paths = purePackages.includes(dir)
    ? [...ioModules, ...drivers].map((name) => ({
        name,
        message: 'Pure packages do no IO (ARCHITECTURE.md §2).',
      }))
    : [];
  return {
    paths,
    patterns: [
      deepImport,
      {
        group: forbidden.map((name) => `@novacron/${name}`),
        message: `${dir} may not import this layer (ARCHITECTURE.md §2).`,
      },
    ],
  };
}

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'reports/**',
      '.cache/**',
      'apps/web/.next/**',
      'apps/web/out/**',
      'apps/web/next-env.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [deepImport] }],
    },
  },
  {
    files: ['packages/*/src/**/*.ts', 'apps/*/src/**/*.ts'],
    ignores: ['packages/config/src/**', 'packages/testkit/src/**', '**/*.test.ts'],
    rules: { 'no-restricted-syntax': ['error', envSelector] },
  },
  ...Object.keys(layers).map((dir) => ({
    files: [`${dir}/src/**/*.ts`],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', importRule(dir)] },
  })),
  {
    files: purePackages.map((dir) => `${dir}/src/**/*.ts`),
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Take the time from a Clock parameter.' },
        { object: 'Math', property: 'random', message: 'Take randomness as a parameter.' },
      ],
      'no-restricted-syntax': [
        'error',
        envSelector,
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Take the time from a Clock parameter.',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: Object.fromEntries(
        ['process', 'console', 'URL', 'setTimeout', 'clearTimeout', 'performance', 'Buffer'].map(
          (name) => [name, 'readonly'],
        ),
      ),
    },
  },
);
