import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The layering of ARCHITECTURE.md §2 is enforced by lint; this proves the rules bite.
const root = fileURLToPath(new URL('../../..', import.meta.url));
const domainFile = fileURLToPath(new URL('./names.ts', import.meta.url));

async function ruleIdsFor(code: string, filePath = domainFile): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('layer boundaries', () => {
  it('reject IO, the clock, randomness and other layers in packages/domain', async () => {
    const messages = await ruleIdsFor(
      [
        "import { readFileSync } from 'node:fs';",
        "import { openStore } from '@novacron/store';",
        'export const a = [readFileSync, openStore, Date.now(), Math.random(), new Date()];',
        'export const env = process.env;',
      ].join('\n'),
    );
    expect(messages.join('\n')).toMatch(/no-restricted-imports: 'node:fs' import is restricted/);
    expect(messages.join('\n')).toMatch(
      /no-restricted-imports: '@novacron\/store' import is restricted/,
    );
    expect(messages.filter((m) => m.startsWith('no-restricted-properties'))).toHaveLength(2);
    expect(messages.filter((m) => m.startsWith('no-restricted-syntax'))).toHaveLength(2);
  }, 60_000);

  it('accept what the domain may use', async () => {
    const messages = await ruleIdsFor(
      "import { NAME_PATTERN } from '@novacron/api';\nexport const pattern = NAME_PATTERN;\n",
    );
    expect(messages).toEqual([]);
  }, 60_000);
});
