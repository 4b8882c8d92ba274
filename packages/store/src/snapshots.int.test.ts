import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestImage,
  DEFAULT_PROJECT,
  testDatabases,
  type Store,
  type TestStore,
} from './index.js';

// The snapshot and template part of the store contract, on SQLite always and on PostgreSQL when
// it answers (NOVACRON_TEST_REQUIRE_POSTGRES=1 turns an unreachable PostgreSQL into a failure).
const databases = await testDatabases({
  postgresUrl: process.env.NOVACRON_TEST_DATABASE_URL,
  requirePostgres: process.env.NOVACRON_TEST_REQUIRE_POSTGRES === '1',
});

for (const database of databases) {
  describe.skipIf(database.skip !== undefined)(`VM snapshots on ${database.dialect}`, () => {
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

    const newVm = (name: string, baseVmId?: string) =>
      store.vms.create({
        project: DEFAULT_PROJECT,
        name,
        imageId,
        cpus: 1,
        memoryMiB: 256,
        diskGiB: 1,
        desiredState: 'stopped',
        ...(baseVmId !== undefined && { baseVmId }),
      });

    it('lists a VM’s snapshots oldest first, refuses a name twice, deletes by name', async () => {
      const vm = await newVm('snap-a');
      const other = await newVm('snap-b');
      const first = await store.snapshots.create({
        vmId: vm.id,
        name: 'before-upgrade',
        description: 'clean',
        memory: true,
        vmState: 'running',
        vmStateBytes: 92_553_024,
      });
      expect(first).toMatchObject({
        vmId: vm.id,
        name: 'before-upgrade',
        description: 'clean',
        memory: true,
        vmState: 'running',
        vmStateBytes: 92_553_024,
      });
      await store.snapshots.create({
        vmId: vm.id,
        name: 'disk-1',
        memory: false,
        vmState: 'stopped',
        vmStateBytes: 0,
      });
      // The same name on another VM is fine.
      await store.snapshots.create({
        vmId: other.id,
        name: 'disk-1',
        memory: false,
        vmState: 'stopped',
        vmStateBytes: 0,
      });
      await expect(
        store.snapshots.create({
          vmId: vm.id,
          name: 'disk-1',
          memory: false,
          vmState: 'stopped',
          vmStateBytes: 0,
        }),
      ).rejects.toMatchObject({ code: 'SNAPSHOT_NAME_TAKEN' });
      expect((await store.snapshots.list(vm.id)).map((s) => s.name)).toEqual([
        'before-upgrade',
        'disk-1',
      ]);
      expect(await store.snapshots.count(vm.id)).toBe(2);
      expect(await store.snapshots.get(vm.id, 'nope')).toBeUndefined();
      expect(await store.snapshots.get(other.id, 'before-upgrade')).toBeUndefined();
      expect(await store.snapshots.delete(vm.id, 'disk-1')).toBe(true);
      expect(await store.snapshots.delete(vm.id, 'disk-1')).toBe(false);
      expect(await store.snapshots.count(vm.id)).toBe(1);
      expect(await store.snapshots.count(other.id)).toBe(1);
    });

    it('drops a VM’s snapshots with the VM', async () => {
      const vm = await newVm('snap-c');
      await store.snapshots.create({
        vmId: vm.id,
        name: 's1',
        memory: false,
        vmState: 'stopped',
        vmStateBytes: 0,
      });
      await store.vms.delete(vm.id);
      expect(await store.snapshots.list(vm.id)).toEqual([]);
    });

    it('marks a template and records which VMs are its linked clones', async () => {
      const template = await newVm('tpl');
      expect(template).toMatchObject({ template: false, baseVm: null });
      const marked = await store.vms.update(template.id, { template: true }, template.version);
      expect(marked).toMatchObject({ template: true, version: template.version + 1 });
      const clone = await newVm('tpl-clone-1', template.id);
      await newVm('tpl-clone-0', template.id);
      expect(clone).toMatchObject({ template: false, baseVm: template.id });
      expect(await store.snapshots.linkedClones(template.id)).toEqual([
        'tpl-clone-0',
        'tpl-clone-1',
      ]);
      expect((await store.vms.get(undefined, template.id))?.template).toBe(true);
    });
  });
}
