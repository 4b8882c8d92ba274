import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// ARCHITECTURE.md §2: the scheduler is pure and sits above api and domain only; lint enforces it.
const root = fileURLToPath(new URL('../../..', import.meta.url));
const file = fileURLToPath(new URL('./place.ts', import.meta.url));

async function messagesFor(code: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: root }).lintText(code, { filePath: file });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('packages/scheduler layering', () => {
  it('rejects IO, the clock, randomness and the adapters', async () => {
    const messages = await messagesFor(
      [
        "import { connect } from 'node:net';",
        "import { openStore } from '@novacron/store';",
        "import { QmpClient } from '@novacron/qmp';",
        'export const a = [connect, openStore, QmpClient, Date.now(), Math.random(), new Date()];',
      ].join('\n'),
    );
    const text = messages.join('\n');
    expect(text).toMatch(/'node:net' import is restricted/);
    expect(text).toMatch(/'@novacron\/store' import is restricted/);
    expect(text).toMatch(/'@novacron\/qmp' import is restricted/);
    expect(messages.filter((m) => m.startsWith('no-restricted-properties'))).toHaveLength(2);
    expect(messages.filter((m) => m.startsWith('no-restricted-syntax'))).toHaveLength(1);
  }, 60_000);

  it('accepts api and domain', async () => {
    const messages = await messagesFor(
      [
        "import { MIGRATION_STRATEGIES } from '@novacron/api';",
        "import { DomainError } from '@novacron/domain';",
        'export const a = [MIGRATION_STRATEGIES, DomainError];',
      ].join('\n'),
    );
    expect(messages).toEqual([]);
  }, 60_000);
});
