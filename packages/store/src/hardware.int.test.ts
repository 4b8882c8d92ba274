import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestImage,
  DEFAULT_PROJECT,
  testDatabases,
  type Store,
  type TestStore,
} from './index.js';

// The hardware part of the store contract (ADR 23), on SQLite always and on PostgreSQL when it
// answers (NOVACRON_TEST_REQUIRE_POSTGRES=1 turns an unreachable PostgreSQL into a failure).
const databases = await testDatabases({
  postgresUrl: process.env.NOVACRON_TEST_DATABASE_URL,
  requirePostgres: process.env.NOVACRON_TEST_REQUIRE_POSTGRES === '1',
});

for (const database of databases) {
  describe.skipIf(database.skip !== undefined)(`VM hardware on ${database.dialect}`, () => {
    let testStore: TestStore | undefined;
    let store: Store;
    let imageId: string;

    beforeAll(async () => {
      testStore = await database.open();
      store = testStore.store;
      imageId = (await createTestImage(store)).id;
    });

    afterAll(async () => {
      await testStore?.cleanup();
    });

    const newVm = (name: string, project = DEFAULT_PROJECT) =>
      store.vms.create({
        project,
        name,
        imageId,
        cpus: 1,
        memoryMiB: 256,
        diskGiB: 2,
        desiredState: 'stopped',
      });

    const hardware = {
      maxCpus: 4,
      maxMemoryMiB: 1024,
      hotCpus: 1,
      dimmsMiB: [128],
      disks: [
        { name: 'disk1', sizeGiB: 3, slot: 0 },
        { name: 'disk2', sizeGiB: 5, slot: 2 },
      ],
      nics: [{ name: 'net1', mac: '52:54:00:0a:0b:0c', slot: 1 }],
    };

    it('keeps the hardware with the VM, replaces it, and drops it with the VM', async () => {
      const vm = await newVm('hw-1');
      expect(await store.hardware.get(vm.id)).toBeUndefined();
      await store.hardware.put(vm.id, hardware);
      expect(await store.hardware.get(vm.id)).toEqual(hardware);
      await store.hardware.put(vm.id, { ...hardware, disks: [] });
      expect((await store.hardware.get(vm.id))?.disks).toEqual([]);
      await store.vms.delete(vm.id);
      expect(await store.hardware.get(vm.id)).toBeUndefined();
    });

    it('counts data disks in the project disk usage', async () => {
      await store.projects.create('hw-quota');
      const a = await newVm('hw-a', 'hw-quota');
      await newVm('hw-b', 'hw-quota');
      expect((await store.projects.usage('hw-quota')).diskGiB).toBe(4);
      await store.hardware.put(a.id, hardware);
      expect((await store.projects.usage('hw-quota')).diskGiB).toBe(12);
      // Another project's data disks are not counted.
      const other = await newVm('hw-c');
      await store.hardware.put(other.id, hardware);
      expect((await store.projects.usage('hw-quota')).diskGiB).toBe(12);
    });

    it('rolls back with its transaction', async () => {
      const vm = await newVm('hw-tx');
      await expect(
        store.transaction(async (tx) => {
          await tx.hardware.put(vm.id, hardware);
          throw new Error('undo');
        }),
      ).rejects.toThrow('undo');
      expect(await store.hardware.get(vm.id)).toBeUndefined();
    });
  });
}
