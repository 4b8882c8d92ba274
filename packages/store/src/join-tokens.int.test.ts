import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type Store, type TestStore } from './index.js';

// The join-token part of the store contract, on SQLite always and on PostgreSQL when it answers
// (NOVACRON_TEST_REQUIRE_POSTGRES=1 turns an unreachable PostgreSQL into a failure).
const databases = await testDatabases({
  postgresUrl: process.env.NOVACRON_TEST_DATABASE_URL,
  requirePostgres: process.env.NOVACRON_TEST_REQUIRE_POSTGRES === '1',
});

const hash = () => randomBytes(32).toString('hex');
const at = (iso: string) => new Date(iso);

for (const database of databases) {
  describe.skipIf(database.skip !== undefined)(`join tokens on ${database.dialect}`, () => {
    let testStore: TestStore | undefined;
    let store: Store;

    beforeAll(async () => {
      testStore = await database.open();
      store = testStore.store;
    });

    afterAll(async () => {
      await testStore?.cleanup();
    });

    it('keeps a token by the hash of its secret, with its host name and expiry', async () => {
      const tokenHash = hash();
      const created = await store.joinTokens.create({
        tokenHash,
        hostName: 'node1',
        expiresAt: at('2030-01-01T01:00:00Z'),
      });
      expect(created).toMatchObject({
        hostName: 'node1',
        expiresAt: '2030-01-01T01:00:00.000Z',
        usedAt: null,
      });
      expect(created).not.toHaveProperty('tokenHash');
      expect(await store.joinTokens.getByHash(tokenHash)).toEqual(created);
      expect(await store.joinTokens.getByHash(hash())).toBeUndefined();
    });

    it('is consumed once: a second use is refused', async () => {
      const tokenHash = hash();
      await store.joinTokens.create({
        tokenHash,
        hostName: 'node2',
        expiresAt: at('2030-01-01T01:00:00Z'),
      });
      const used = await store.joinTokens.consume(tokenHash, at('2030-01-01T00:10:00Z'));
      expect(used).toMatchObject({ hostName: 'node2', usedAt: '2030-01-01T00:10:00.000Z' });
      expect(await store.joinTokens.consume(tokenHash, at('2030-01-01T00:11:00Z'))).toBeUndefined();
      expect((await store.joinTokens.getByHash(tokenHash))?.usedAt).toBe(
        '2030-01-01T00:10:00.000Z',
      );
    });

    it('is refused once expired, from the expiry instant on', async () => {
      const tokenHash = hash();
      await store.joinTokens.create({
        tokenHash,
        hostName: 'node3',
        expiresAt: at('2030-01-01T01:00:00Z'),
      });
      expect(await store.joinTokens.consume(tokenHash, at('2030-01-01T01:00:00Z'))).toBeUndefined();
      expect(await store.joinTokens.consume(tokenHash, at('2030-01-02T00:00:00Z'))).toBeUndefined();
      expect((await store.joinTokens.getByHash(tokenHash))?.usedAt).toBeNull();
      expect(await store.joinTokens.consume(hash(), at('2030-01-01T00:00:00Z'))).toBeUndefined();
    });

    it('lets exactly one of many concurrent joins with one token win', async () => {
      for (let round = 0; round < 5; round++) {
        const tokenHash = hash();
        await store.joinTokens.create({
          tokenHash,
          hostName: `race${round}`,
          expiresAt: at('2030-01-01T01:00:00Z'),
        });
        const results = await Promise.all(
          Array.from({ length: 8 }, () =>
            store.joinTokens.consume(tokenHash, at('2030-01-01T00:00:00Z')),
          ),
        );
        expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      }
    });

    it('lists pending tokens and prunes used and expired ones', async () => {
      const pending = hash();
      const expired = hash();
      const used = hash();
      await store.joinTokens.create({
        tokenHash: pending,
        hostName: 'p1',
        expiresAt: at('2031-06-01T01:00:00Z'),
      });
      await store.joinTokens.create({
        tokenHash: expired,
        hostName: 'p2',
        expiresAt: at('2031-05-01T00:00:00Z'),
      });
      await store.joinTokens.create({
        tokenHash: used,
        hostName: 'p3',
        expiresAt: at('2031-06-01T01:00:00Z'),
      });
      await store.joinTokens.consume(used, at('2031-05-01T00:00:00Z'));
      const now = at('2031-06-01T00:00:00Z');
      expect((await store.joinTokens.listPending(now)).map((t) => t.hostName)).toEqual(['p1']);

      expect(await store.joinTokens.prune(now)).toBeGreaterThanOrEqual(2);
      expect(await store.joinTokens.getByHash(expired)).toBeUndefined();
      expect(await store.joinTokens.getByHash(used)).toBeUndefined();
      expect(await store.joinTokens.getByHash(pending)).toBeDefined();
    });
  });
}
