import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestImage,
  DEFAULT_PROJECT,
  testDatabases,
  type Store,
  type TestStore,
} from './index.js';

// The cloud-init part of the store contract, on SQLite always and on PostgreSQL when it answers
// (NOVACRON_TEST_REQUIRE_POSTGRES=1 turns an unreachable PostgreSQL into a failure).
const databases = await testDatabases({
  postgresUrl: process.env.NOVACRON_TEST_DATABASE_URL,
  requirePostgres: process.env.NOVACRON_TEST_REQUIRE_POSTGRES === '1',
});

for (const database of databases) {
  describe.skipIf(database.skip !== undefined)(`VM cloud-init on ${database.dialect}`, () => {
    let testStore: TestStore | undefined;
    let store: Store;
    let imageId: string;

    beforeAll(async () => {
      testStore = await database.open();
      store = testStore.store;
      imageId = (await createTestImage(store, { name: 'debian', kind: 'disk' })).id;
    });

    afterAll(async () => {
      await testStore?.cleanup();
    });

    const newVm = (name: string) =>
      store.vms.create({
        project: DEFAULT_PROJECT,
        name,
        imageId,
        cpus: 1,
        memoryMiB: 256,
        diskGiB: 1,
        desiredState: 'stopped',
      });

    it('keeps the data with the VM, in the VM create transaction, and drops it with the VM', async () => {
      const seed = {
        instanceId: 'iid-1',
        hostname: 'web-1',
        sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== ops@example'],
        userData: '#cloud-config\nruncmd:\n  - [echo, "héllo"]\n',
      };
      const vm = await store.transaction(async (tx) => {
        const created = await tx.vms.create({
          project: DEFAULT_PROJECT,
          name: 'web-1',
          imageId,
          cpus: 1,
          memoryMiB: 256,
          diskGiB: 1,
          desiredState: 'stopped',
        });
        await tx.cloudInit.put(created.id, seed);
        return created;
      });
      expect(await store.cloudInit.get(vm.id)).toEqual(seed);

      await store.cloudInit.put(vm.id, { ...seed, hostname: 'web-2' });
      expect((await store.cloudInit.get(vm.id))?.hostname).toBe('web-2');

      await store.vms.delete(vm.id);
      expect(await store.cloudInit.get(vm.id)).toBeUndefined();
    });

    it('has nothing for a VM created without cloud-init, and rolls back with its transaction', async () => {
      const plain = await newVm('plain');
      expect(await store.cloudInit.get(plain.id)).toBeUndefined();
      await expect(
        store.transaction(async (tx) => {
          await tx.cloudInit.put(plain.id, { instanceId: 'iid-x', hostname: 'x', sshKeys: [] });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await store.cloudInit.get(plain.id)).toBeUndefined();
    });

    it('refuses data for a VM that does not exist', async () => {
      await expect(
        store.cloudInit.put('no-such-vm', { instanceId: 'iid-y', hostname: 'y', sshKeys: [] }),
      ).rejects.toThrow();
    });
  });
}
