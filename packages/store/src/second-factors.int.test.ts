import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type Store, type TestStore } from './index.js';

// The second-factor part of the store contract, on SQLite always and on PostgreSQL when it
// answers (NOVACRON_TEST_REQUIRE_POSTGRES=1 turns an unreachable PostgreSQL into a failure).
const databases = await testDatabases({
  postgresUrl: process.env.NOVACRON_TEST_DATABASE_URL,
  requirePostgres: process.env.NOVACRON_TEST_REQUIRE_POSTGRES === '1',
});

for (const database of databases) {
  describe.skipIf(database.skip !== undefined)(`second factors on ${database.dialect}`, () => {
    let testStore: TestStore | undefined;
    let store: Store;
    let userId: string;

    beforeAll(async () => {
      testStore = await database.open();
      store = testStore.store;
      userId = (await store.users.create({ username: 'ops', passwordHash: 'x', role: 'admin' })).id;
    });

    afterAll(async () => {
      await testStore?.cleanup();
    });

    it('enrols, activates on the first code, and accepts each later step once', async () => {
      expect(await store.secondFactors.get(userId)).toBeUndefined();
      expect(await store.secondFactors.activate(userId, 10)).toBe(false);
      expect(await store.secondFactors.startEnrolment(userId, 'sealed-1', ['h1', 'h2'])).toBe(true);
      // Enrolling again before verifying replaces the pending secret and the codes.
      expect(await store.secondFactors.startEnrolment(userId, 'sealed-2', ['h3', 'h4'])).toBe(true);
      expect(await store.secondFactors.get(userId)).toEqual({
        userId,
        pendingSecretSealed: 'sealed-2',
        required: false,
      });
      expect(await store.secondFactors.useStep(userId, 10)).toBe(false);
      expect(await store.secondFactors.activate(userId, 59_000_000_123)).toBe(true);
      const active = await store.secondFactors.get(userId);
      expect(active).toMatchObject({ secretSealed: 'sealed-2', lastStep: 59_000_000_123 });
      expect(active?.pendingSecretSealed).toBeUndefined();
      expect(active?.enabledAt).toMatch(/^\d{4}-/);
      expect(await store.secondFactors.activate(userId, 59_000_000_124)).toBe(false);
      expect(await store.secondFactors.startEnrolment(userId, 'sealed-3', [])).toBe(false);

      expect(await store.secondFactors.useStep(userId, 59_000_000_123)).toBe(false);
      expect(await store.secondFactors.useStep(userId, 59_000_000_122)).toBe(false);
      expect(await store.secondFactors.useStep(userId, 59_000_000_124)).toBe(true);
      expect(await store.secondFactors.useStep(userId, 59_000_000_124)).toBe(false);
    });

    it('uses a recovery code once, and forgets all of them on disable', async () => {
      expect(await store.secondFactors.unusedRecoveryCodes(userId)).toBe(2);
      expect(await store.secondFactors.useRecoveryCode(userId, 'h1')).toBe(false);
      expect(await store.secondFactors.useRecoveryCode(userId, 'h3')).toBe(true);
      expect(await store.secondFactors.useRecoveryCode(userId, 'h3')).toBe(false);
      expect(await store.secondFactors.unusedRecoveryCodes(userId)).toBe(1);

      await store.secondFactors.setRequired(userId, true);
      await store.secondFactors.disable(userId);
      expect(await store.secondFactors.get(userId)).toEqual({ userId, required: true });
      expect(await store.secondFactors.unusedRecoveryCodes(userId)).toBe(0);
      expect(await store.secondFactors.useRecoveryCode(userId, 'h4')).toBe(false);
    });

    it('keeps the requirement of a user without a factor', async () => {
      const other = await store.users.create({ username: 'dev', passwordHash: 'x', role: 'admin' });
      await store.secondFactors.setRequired(other.id, true);
      expect(await store.secondFactors.get(other.id)).toEqual({ userId: other.id, required: true });
      await store.secondFactors.setRequired(other.id, false);
      expect(await store.secondFactors.get(other.id)).toEqual({
        userId: other.id,
        required: false,
      });
    });
  });
}
