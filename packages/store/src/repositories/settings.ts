import type { Scope } from '../context.js';

export interface SettingRepository {
  get(key: string): Promise<string | undefined>;
  /**
   * Stores the value unless the key already has one, atomically, and returns the value that
   * ended up stored: the first writer wins, so replicas agree on e.g. one JWT signing key.
   */
  setIfAbsent(key: string, value: string): Promise<string>;
}

export function createSettingRepository(scope: Scope): SettingRepository {
  const { db } = scope;
  const get = async (key: string) => {
    const row = await db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value;
  };
  return {
    get,
    async setIfAbsent(key, value) {
      await db
        .insertInto('settings')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
      const stored = await get(key);
      if (stored === undefined) throw new Error(`setting ${key} vanished after insert`);
      return stored;
    },
  };
}
