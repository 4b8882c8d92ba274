import { setTimeout as sleep } from 'node:timers/promises';
import type { Event, Image } from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_PROJECT,
  StaleVersionError,
  testDatabases,
  type Store,
  type TestStore,
} from './index.js';

// The store contract: one suite, run on SQLite always and on PostgreSQL when it answers
// (NOVACRON_TEST_REQUIRE_POSTGRES=1 turns an unreachable PostgreSQL into a failure).
const databases = await testDatabases({
  postgresUrl: process.env.NOVACRON_TEST_DATABASE_URL,
  requirePostgres: process.env.NOVACRON_TEST_REQUIRE_POSTGRES === '1',
});

let counter = 0;
/** A fresh name per call, so that tests sharing a store do not see each other's rows. */
const unique = (prefix: string) => `${prefix}-${(counter++).toString(36)}`;

function expectDomainError(error: unknown, code: string): void {
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
}

for (const database of databases) {
  if (database.skip !== undefined) {
    console.warn(`store contract on ${database.dialect} SKIPPED: ${database.skip}`);
  }

  describe.skipIf(database.skip !== undefined)(`store contract on ${database.dialect}`, () => {
    let testStore: TestStore | undefined;
    let store: Store;
    let image: Image;

    beforeAll(async () => {
      testStore = await database.open();
      store = testStore.store;
      image = await store.images.create({
        project: DEFAULT_PROJECT,
        name: 'tiny',
        kind: 'kernel',
        status: 'ready',
        builtin: true,
        sizeBytes: 5 * 1024 * 1024 * 1024,
        defaultKernelArgs: 'console=ttyS0',
        sha256: 'ab'.repeat(32),
      });
    });

    afterAll(async () => {
      await testStore?.cleanup();
    });

    const newVm = (project: string, name = unique('vm')) =>
      store.vms.create({
        project,
        name,
        imageId: image.id,
        cpus: 1,
        memoryMiB: 256,
        diskGiB: 1,
        desiredState: 'running',
      });

    it('reports its dialect', () => {
      expect(store.dialect).toBe(database.dialect);
    });

    it('migrates idempotently', async () => {
      await store.migrate();
      await store.migrate();
      expect(await store.images.get(DEFAULT_PROJECT, 'tiny')).toEqual(image);
    });

    it('has a default project, and ensure creates a project once', async () => {
      const project = await store.projects.get(DEFAULT_PROJECT);
      expect(project?.name).toBe(DEFAULT_PROJECT);
      expect(project?.id).toMatch(/^[a-z0-9]{12,16}$/);
      expect(await store.projects.get(project?.id ?? '')).toEqual(project);
      expect(await store.projects.ensure(DEFAULT_PROJECT)).toEqual(project);

      const name = unique('proj');
      const [a, b] = await Promise.all([store.projects.ensure(name), store.projects.ensure(name)]);
      expect(a).toEqual(b);
      expect(await store.projects.get('no-such-project')).toBeUndefined();
    });

    it('creates users and finds them by username', async () => {
      const before = await store.users.count();
      const user = await store.users.create({
        username: 'alice',
        passwordHash: '$argon2id$hash',
        role: 'admin',
      });
      expect(await store.users.count()).toBe(before + 1);
      expect(await store.users.getByUsername('alice')).toEqual(user);
      expect(await store.users.get(user.id)).toEqual(user);
      expect(await store.users.getByUsername('bob')).toBeUndefined();

      const duplicate = await store.users
        .create({ username: 'alice', passwordHash: 'x', role: 'viewer' })
        .catch((error: unknown) => error);
      expectDomainError(duplicate, 'VALIDATION_FAILED');
      expect(await store.users.count()).toBe(before + 1);
    });

    it('creates a VM with names resolved, and refuses a duplicate name without changing anything', async () => {
      const project = (await store.projects.ensure(unique('proj'))).name;
      const vm = await newVm(project, 'web');
      expect(vm).toMatchObject({
        name: 'web',
        project,
        image: 'tiny',
        host: null,
        state: 'creating',
        desiredState: 'running',
        labels: {},
        stateReason: null,
        version: 1,
      });
      expect(await store.vms.get(project, 'web')).toEqual(vm);
      expect(await store.vms.get(undefined, vm.id)).toEqual(vm);
      expect(await store.vms.get(DEFAULT_PROJECT, 'web')).toBeUndefined();

      const seq = await store.events.lastSeq();
      const duplicate = await newVm(project, 'web').catch((error: unknown) => error);
      expectDomainError(duplicate, 'VM_NAME_TAKEN');
      // Inside a transaction too, and the transaction's earlier writes roll back with it.
      const inTx = await store
        .transaction(async (tx) => {
          await tx.vms.update(vm.id, { labels: { touched: 'yes' } });
          return tx.vms.create({
            project,
            name: 'web',
            imageId: image.id,
            cpus: 1,
            memoryMiB: 256,
            diskGiB: 1,
            desiredState: 'stopped',
          });
        })
        .catch((error: unknown) => error);
      expectDomainError(inTx, 'VM_NAME_TAKEN');

      expect(await store.events.lastSeq()).toBe(seq);
      expect(await store.vms.get(project, 'web')).toEqual(vm);
      expect((await store.vms.list({ project })).items).toEqual([vm]);

      // The same name in another project is fine.
      const other = await newVm(DEFAULT_PROJECT, 'web');
      expect(other.project).toBe(DEFAULT_PROJECT);
      expect(await store.vms.get(undefined, 'web')).toEqual(other);

      const missing = await newVm('no-such-project').catch((error: unknown) => error);
      expectDomainError(missing, 'PROJECT_NOT_FOUND');
    });

    it('lists VMs with filters and stable keyset pagination across pages', async () => {
      const project = (await store.projects.ensure(unique('proj'))).name;
      const host = await store.hosts.upsert({
        name: unique('host'),
        agentUrl: 'https://10.0.0.1:8094',
        cpus: 8,
        memoryMiB: 16384,
        accelerator: 'tcg',
        acceleratorReason: 'probe guest did not boot under KVM',
        qemuVersion: '7.2.0',
      });
      // Created in parallel, so that many share a created_at and the id breaks the tie.
      const created = await Promise.all(Array.from({ length: 23 }, () => newVm(project)));
      for (const vm of created.slice(0, 5)) {
        await store.vms.update(vm.id, { hostId: host.id, state: 'running' });
      }

      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await store.vms.list({ project, limit: 5, cursor });
        pages.push(page.items.map((vm) => vm.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      expect(pages.map((page) => page.length)).toEqual([5, 5, 5, 5, 3]);
      const listed = pages.flat();
      expect(new Set(listed).size).toBe(23);
      const all = await store.vms.list({ project, limit: 1000 });
      expect(all.nextCursor).toBeNull();
      expect(listed).toEqual(all.items.map((vm) => vm.id));
      const keys = all.items.map((vm) => [vm.createdAt, vm.id] as const);
      expect([...keys].sort((a, b) => (a[0] === b[0] ? cmp(a[1], b[1]) : cmp(a[0], b[0])))).toEqual(
        keys,
      );

      // listIds walks the same pages with the same cursors; getMany reads the VMs it names.
      const idPages: string[][] = [];
      let idCursor: string | undefined;
      do {
        const page = await store.vms.listIds({ project, limit: 5, cursor: idCursor });
        idPages.push(page.ids);
        idCursor = page.nextCursor ?? undefined;
      } while (idCursor !== undefined);
      expect(idPages).toEqual(pages);
      const running = await store.vms.listIds({ project, state: 'running', limit: 1000 });
      expect([...running.ids].sort()).toEqual(
        created
          .slice(0, 5)
          .map((vm) => vm.id)
          .sort(),
      );
      const many = await store.vms.getMany([...listed.slice(0, 3), 'nosuchvm']);
      expect(many.map((vm) => vm.id).sort()).toEqual(listed.slice(0, 3).sort());
      expect(many).toContainEqual(await store.vms.get(undefined, listed[0] ?? ''));
      expect(await store.vms.getMany([])).toEqual([]);

      const onHost = await store.vms.list({ project, host: host.name });
      expect(onHost.items.map((vm) => vm.id).sort()).toEqual(
        created
          .slice(0, 5)
          .map((vm) => vm.id)
          .sort(),
      );
      expect(onHost.items.every((vm) => vm.host === host.name && vm.state === 'running')).toBe(
        true,
      );
      expect((await store.vms.list({ project, host: host.id })).items).toEqual(onHost.items);
      expect((await store.vms.list({ project, state: 'running' })).items).toEqual(onHost.items);
      expect((await store.vms.list({ project, state: 'paused' })).items).toEqual([]);
      expect((await store.vms.list({ project: 'no-such-project' })).items).toEqual([]);

      // A page boundary survives a deletion before it and an insertion after it.
      const first = await store.vms.list({ project, limit: 10 });
      await store.vms.delete(first.items[9]?.id ?? '');
      await newVm(project);
      const second = await store.vms.list({ project, limit: 100, cursor: first.nextCursor ?? '' });
      expect(second.items.map((vm) => vm.id)).toEqual(
        (await store.vms.list({ project, limit: 1000 })).items.slice(9).map((vm) => vm.id),
      );

      const bad = await store.vms.list({ cursor: 'not a cursor' }).catch((error: unknown) => error);
      expectDomainError(bad, 'VALIDATION_FAILED');
    });

    it('rejects an update carrying a stale version, and changes nothing', async () => {
      const vm = await newVm(DEFAULT_PROJECT);
      const updated = await store.vms.update(
        vm.id,
        { state: 'stopped', stateReason: null },
        vm.version,
      );
      expect(updated).toMatchObject({ state: 'stopped', version: 2 });

      const seq = await store.events.lastSeq();
      const stale = await store.vms
        .update(vm.id, { state: 'running' }, vm.version)
        .catch((error: unknown) => error);
      expect(stale).toBeInstanceOf(StaleVersionError);
      expect(stale).toMatchObject({ id: vm.id, expectedVersion: 1, actualVersion: 2 });
      expect(await store.vms.get(undefined, vm.id)).toEqual(updated);
      expect(await store.events.lastSeq()).toBe(seq);

      expect(await store.vms.update('nosuchvm', { state: 'running' })).toBeUndefined();
      expect(await store.vms.update('nosuchvm', { state: 'running' }, 3)).toBeUndefined();
    });

    it('appends an event with each change, and lists exactly the later ones in order', async () => {
      const since = await store.events.lastSeq();
      const heard: Event[] = [];
      const unsubscribe = store.onEvent((events) => heard.push(...events));

      const vm = await newVm(DEFAULT_PROJECT);
      const updated = await store.vms.update(vm.id, { labels: { tier: 'web' } });
      const host = await store.hosts.upsert({
        name: unique('host'),
        agentUrl: 'https://10.0.0.2:8094',
        cpus: 4,
        memoryMiB: 8192,
        accelerator: null,
        acceleratorReason: 'not probed yet',
        qemuVersion: '7.2.0',
        labels: { rack: 'a' },
      });
      const operation = await store.operations.create({
        kind: 'vm.start',
        target: { type: 'vm', id: vm.id, name: vm.name },
        project: DEFAULT_PROJECT,
      });
      const running = await store.operations.update(operation.id, {
        status: 'running',
        phase: 'booting',
        progress: 40,
      });
      await store.vms.delete(vm.id);
      // A rolled-back transaction appends nothing and tells nobody.
      await store
        .transaction(async (tx) => {
          await tx.vms.update(updated?.id ?? '', {});
          throw new Error('roll back');
        })
        .catch(() => undefined);
      unsubscribe();

      const events = await store.events.list({ since });
      expect(events.map((event) => event.type)).toEqual([
        'vm.created',
        'vm.updated',
        'host.updated',
        'operation.created',
        'operation.updated',
        'vm.deleted',
      ]);
      expect(events.map((event) => event.data)).toEqual([
        vm,
        updated,
        host,
        operation,
        running,
        { id: vm.id, name: vm.name },
      ]);
      expect(events.map((event) => event.subject)).toEqual([
        { kind: 'vm', id: vm.id },
        { kind: 'vm', id: vm.id },
        { kind: 'host', id: host.id },
        { kind: 'operation', id: operation.id },
        { kind: 'operation', id: operation.id },
        { kind: 'vm', id: vm.id },
      ]);
      expect(events.map((event) => event.project)).toEqual([
        DEFAULT_PROJECT,
        DEFAULT_PROJECT,
        null,
        DEFAULT_PROJECT,
        DEFAULT_PROJECT,
        DEFAULT_PROJECT,
      ]);
      const seqs = events.map((event) => event.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(heard).toEqual(events);

      const third = seqs[2] ?? 0;
      expect(await store.events.list({ since: third })).toEqual(events.slice(3));
      expect(
        (await store.events.list({ since, types: ['vm.created', 'vm.deleted'] })).map(
          (e) => e.type,
        ),
      ).toEqual(['vm.created', 'vm.deleted']);
      expect(await store.events.list({ since, limit: 2 })).toEqual(events.slice(0, 2));
      expect(await store.events.list({ since: seqs.at(-1) ?? 0 })).toEqual([]);
    });

    it('numbers concurrent appends so that a polling reader never skips one', async () => {
      const vms = await Promise.all(Array.from({ length: 20 }, () => newVm(DEFAULT_PROJECT)));
      const start = await store.events.lastSeq();
      const delivered: number[] = [];
      const unsubscribe = store.onEvent((events) => delivered.push(...events.map((e) => e.seq)));

      let writing = true;
      const writers = Promise.all(
        vms.map((vm) =>
          store.transaction(async (tx) => {
            await sleep(Math.random() * 10);
            await tx.vms.update(vm.id, { state: 'starting' });
            // Hold the transaction open after the first append, as a slow writer would.
            await sleep(Math.random() * 20);
            await tx.operations.create({
              kind: 'vm.start',
              target: { type: 'vm', id: vm.id, name: vm.name },
              project: DEFAULT_PROJECT,
            });
          }),
        ),
      ).finally(() => {
        writing = false;
      });

      const seen: number[] = [];
      let last = start;
      const poll = async () => {
        const batch = await store.events.list({ since: last, limit: 1000 });
        seen.push(...batch.map((event) => event.seq));
        last = batch.at(-1)?.seq ?? last;
        return batch.length;
      };
      while (writing) {
        await poll();
        await sleep(1);
      }
      await writers;
      while ((await poll()) > 0);
      unsubscribe();

      const all = (await store.events.list({ since: start, limit: 1000 })).map((e) => e.seq);
      expect(all).toHaveLength(40);
      expect(all).toEqual(Array.from({ length: 40 }, (_, i) => (all[0] ?? 0) + i));
      expect(seen).toEqual(all);
      expect(delivered).toEqual(all);
    });

    it('keeps the first value written to a setting', async () => {
      expect(await store.settings.get('jwt.key')).toBeUndefined();
      const values = Array.from({ length: 10 }, (_, i) => `key-${i}`);
      const stored = await Promise.all(values.map((v) => store.settings.setIfAbsent('jwt.key', v)));
      const winner = await store.settings.get('jwt.key');
      expect(values).toContain(winner);
      expect(stored).toEqual(values.map(() => winner));
      expect(await store.settings.setIfAbsent('jwt.key', 'late')).toBe(winner);
    });

    it('creates, finds and revokes sessions', async () => {
      const user = await store.users.create({
        username: unique('user'),
        passwordHash: 'h',
        role: 'viewer',
      });
      const expiresAt = new Date('2030-01-01T00:00:00.000Z');
      const session = await store.sessions.create({
        userId: user.id,
        refreshTokenHash: 'hash-1',
        expiresAt,
      });
      expect(session).toMatchObject({
        userId: user.id,
        expiresAt: expiresAt.toISOString(),
        revokedAt: null,
      });
      expect(await store.sessions.getByRefreshTokenHash('hash-1')).toEqual(session);
      expect(await store.sessions.revoke(session.id)).toBe(true);
      expect(await store.sessions.revoke(session.id)).toBe(false);
      expect((await store.sessions.get(session.id))?.revokedAt).toEqual(expect.any(String));
      expect(await store.sessions.revoke('nosuchsession')).toBe(false);
      expect(await store.sessions.getByRefreshTokenHash('hash-2')).toBeUndefined();
    });

    it('registers a host once by name and keeps what re-registration does not restate', async () => {
      const name = unique('host');
      const registration = {
        name,
        agentUrl: 'https://10.0.0.3:8094',
        cpus: 2,
        memoryMiB: 4096,
        accelerator: 'kvm' as const,
        acceleratorReason: 'probe guest booted under KVM',
        qemuVersion: '7.2.0',
        labels: { zone: 'a' },
      };
      const host = await store.hosts.upsert(registration);
      expect(host).toMatchObject({ ...registration, state: 'ready', lastHeartbeatAt: null });
      await store.hosts.setState(host.id, 'disabled');

      const again = await store.hosts.upsert({ ...registration, labels: undefined, cpus: 4 });
      expect(again).toMatchObject({
        id: host.id,
        cpus: 4,
        state: 'disabled',
        labels: { zone: 'a' },
      });

      const at = new Date('2030-01-01T00:00:05.000Z');
      const beat = await store.hosts.recordHeartbeat(host.id, at);
      expect(beat?.lastHeartbeatAt).toBe(at.toISOString());
      expect(await store.hosts.get(name)).toEqual(beat);
      expect(await store.hosts.get(host.id)).toEqual(beat);
      expect((await store.hosts.list()).map((h) => h.name)).toContain(name);
      expect(await store.hosts.setState('nosuchhost', 'ready')).toBeUndefined();
      expect(await store.hosts.get('nosuchhost')).toBeUndefined();
    });

    it('creates, finds and updates images per project', async () => {
      expect(image).toMatchObject({
        project: DEFAULT_PROJECT,
        builtin: true,
        sizeBytes: 5 * 1024 * 1024 * 1024,
      });
      const project = (await store.projects.ensure(unique('proj'))).name;
      const own = await store.images.create({
        project,
        name: 'tiny',
        kind: 'disk',
        status: 'importing',
        sizeBytes: 0,
        defaultKernelArgs: '',
        sha256: '',
      });
      expect((await store.images.list(project)).map((i) => i.id)).toEqual([own.id]);
      expect(await store.images.get(project, 'tiny')).toEqual(own);
      expect(await store.images.get(project, image.id)).toEqual(image);
      const ready = await store.images.update(own.id, { status: 'ready', sizeBytes: 1234 });
      expect(ready).toMatchObject({ status: 'ready', sizeBytes: 1234, kind: 'disk' });
      expect(await store.images.update('nosuchimage', { status: 'failed' })).toBeUndefined();

      const duplicate = await store.images
        .create({ ...own, project, builtin: false })
        .catch((error: unknown) => error);
      expectDomainError(duplicate, 'IMAGE_NAME_TAKEN');
    });

    it('deletes an image only while no VM is based on it', async () => {
      const project = (await store.projects.ensure(unique('proj'))).name;
      const spare = await store.images.create({
        project,
        name: 'spare',
        kind: 'disk',
        status: 'ready',
        sizeBytes: 1,
        defaultKernelArgs: '',
        sha256: 'x',
      });
      await store.vms.create({
        project,
        name: 'user',
        imageId: spare.id,
        cpus: 1,
        memoryMiB: 64,
        diskGiB: 1,
        desiredState: 'stopped',
      });
      expectDomainError(
        await store.images.delete(spare.id).catch((e: unknown) => e),
        'IMAGE_IN_USE',
      );
      expect(await store.images.get(project, 'spare')).toEqual(spare);
      const vm = await store.vms.get(project, 'user');
      await store.vms.delete(vm!.id);
      expect(await store.images.delete(spare.id)).toEqual(spare);
      expect(await store.images.get(project, 'spare')).toBeUndefined();
      expect(await store.images.delete(spare.id)).toBeUndefined();
    });

    it('lists unfinished operations', async () => {
      const vm = await newVm(DEFAULT_PROJECT);
      const target = { type: 'vm' as const, id: vm.id, name: vm.name };
      const done = await store.operations.create({ kind: 'vm.stop', target, project: null });
      await store.operations.update(done.id, {
        status: 'failed',
        error: { code: 'AGENT_ERROR', message: 'agent said no' },
        result: { tried: 1 },
      });
      const open = await store.operations.create({ kind: 'vm.start', target, project: null });

      const unfinished = (await store.operations.listUnfinished()).map((op) => op.id);
      expect(unfinished).toContain(open.id);
      expect(unfinished).not.toContain(done.id);
      expect(await store.operations.get(done.id)).toMatchObject({
        status: 'failed',
        error: { code: 'AGENT_ERROR', message: 'agent said no' },
        result: { tried: 1 },
      });
      expect(await store.operations.get('nosuchop')).toBeUndefined();
      expect(await store.operations.update('nosuchop', { progress: 1 })).toBeUndefined();
    });

    it('patches a host: labels merge, disabled wins over liveness, cordon is a flag', async () => {
      const host = await store.hosts.upsert({
        name: unique('host'),
        agentUrl: 'https://10.0.0.4:8094',
        cpus: 2,
        memoryMiB: 2048,
        accelerator: 'tcg',
        acceleratorReason: 'no KVM',
        qemuVersion: '7.2.0',
        labels: { zone: 'a', rack: '1' },
      });
      expect(host).toMatchObject({ state: 'ready', cordoned: false });

      const since = await store.events.lastSeq();
      const patched = await store.hosts.patch(host.id, {
        labels: { rack: null, ssd: 'yes' },
        cordoned: true,
      });
      expect(patched).toMatchObject({
        state: 'ready',
        cordoned: true,
        labels: { zone: 'a', ssd: 'yes' },
      });
      const events = await store.events.list({ since });
      expect(events.map((e) => [e.type, e.subject.id])).toEqual([['host.updated', host.id]]);
      expect(events[0]?.data).toEqual(patched);

      const disabled = await store.hosts.patch(host.id, { enabled: false });
      expect(disabled).toMatchObject({ state: 'disabled', cordoned: true });
      // Liveness does not re-enable a host an operator disabled, and re-enabling shows liveness.
      await store.hosts.setState(host.id, 'unreachable');
      expect((await store.hosts.get(host.id))?.state).toBe('disabled');
      await store.hosts.setState(host.id, 'ready');
      expect((await store.hosts.patch(host.id, { enabled: true }))?.state).toBe('ready');
      await store.hosts.setState(host.id, 'disabled');
      expect((await store.hosts.get(host.name))?.state).toBe('disabled');

      // Labels survive a re-registration that does not restate them.
      const again = await store.hosts.upsert({
        name: host.name,
        agentUrl: host.agentUrl,
        cpus: 2,
        memoryMiB: 2048,
        accelerator: 'tcg',
        acceleratorReason: 'no KVM',
        qemuVersion: '7.2.0',
      });
      expect(again).toMatchObject({ labels: { zone: 'a', ssd: 'yes' }, cordoned: true });
      expect(await store.hosts.patch('nosuchhost', { cordoned: true })).toBeUndefined();
    });

    it('keeps restart policy, restarts and description per VM, and filters by labels', async () => {
      const project = (await store.projects.ensure(unique('proj'))).name;
      const plain = await newVm(project);
      expect(plain).toMatchObject({
        restartPolicy: 'never',
        restarts: 0,
        lastRestartAt: null,
        description: '',
        imageId: image.id,
      });
      const web = await store.vms.create({
        project,
        name: unique('web'),
        imageId: image.id,
        cpus: 1,
        memoryMiB: 256,
        diskGiB: 1,
        desiredState: 'running',
        restartPolicy: 'always',
        description: 'front end',
        labels: { tier: 'web', env: 'prod', 'odd key': 'a=b' },
      });
      expect(web).toMatchObject({ restartPolicy: 'always', description: 'front end' });
      const db = await store.vms.create({
        project,
        name: unique('db'),
        imageId: image.id,
        cpus: 1,
        memoryMiB: 256,
        diskGiB: 1,
        desiredState: 'running',
        labels: { tier: 'db', env: 'prod' },
      });

      const ids = async (labels: Record<string, string>) =>
        (await store.vms.list({ project, labels })).items.map((vm) => vm.id);
      // Listed by creation time, then id: two VMs made in the same millisecond come in id order.
      const prod = await ids({ env: 'prod' });
      expect([...prod].sort()).toEqual([web.id, db.id].sort());
      expect(await ids({ env: 'prod', tier: 'web' })).toEqual([web.id]);
      expect(await ids({ 'odd key': 'a=b' })).toEqual([web.id]);
      expect(await ids({ tier: 'cache' })).toEqual([]);
      expect(await ids({ nokey: '' })).toEqual([]);
      // Pagination and a label filter together.
      const first = await store.vms.list({ project, labels: { env: 'prod' }, limit: 1 });
      expect(first.items.map((vm) => vm.id)).toEqual([prod[0]]);
      const second = await store.vms.list({
        project,
        labels: { env: 'prod' },
        limit: 1,
        cursor: first.nextCursor ?? '',
      });
      expect(second.items.map((vm) => vm.id)).toEqual([prod[1]]);
      expect(second.nextCursor).toBeNull();

      const at = '2030-01-01T00:00:00.000Z';
      const restarted = await store.vms.update(
        plain.id,
        { restartPolicy: 'on-failure', restarts: 1, lastRestartAt: at, description: 'x' },
        plain.version,
      );
      expect(restarted).toMatchObject({
        restartPolicy: 'on-failure',
        restarts: 1,
        lastRestartAt: at,
        description: 'x',
        version: plain.version + 1,
      });
    });

    it('lists operations newest first with filters and pagination, and ends one only once', async () => {
      const vm = await newVm(DEFAULT_PROJECT);
      const other = await newVm(DEFAULT_PROJECT);
      const target = { type: 'vm' as const, id: vm.id, name: vm.name };
      const created: string[] = [];
      for (const kind of ['vm.create', 'vm.start', 'vm.stop', 'vm.start'] as const) {
        created.push(
          (await store.operations.create({ kind, target, project: DEFAULT_PROJECT })).id,
        );
      }
      const elsewhere = await store.operations.create({
        kind: 'vm.start',
        target: { type: 'vm', id: other.id, name: other.name },
        project: DEFAULT_PROJECT,
      });
      await store.operations.update(created[0] ?? '', { status: 'succeeded' });

      const mine = (await store.operations.list({ target: vm.id, limit: 1000 })).items;
      // Newest first; operations created in one millisecond still come in a stable order.
      expect(mine.map((op) => op.id).sort()).toEqual([...created].sort());
      const keys = mine.map((op) => [op.createdAt, op.id] as const);
      expect([...keys].sort((a, b) => (a[0] === b[0] ? cmp(b[1], a[1]) : cmp(b[0], a[0])))).toEqual(
        keys,
      );
      expect((await store.operations.list({ target: vm.name })).items).toEqual(mine);

      const pages: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.operations.list({ target: vm.id, limit: 3, cursor });
        pages.push(...page.items.map((op) => op.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      expect(pages).toEqual(mine.map((op) => op.id));

      const starts = await store.operations.list({ target: vm.id, kind: 'vm.start' });
      expect(starts.items.map((op) => op.kind)).toEqual(['vm.start', 'vm.start']);
      const done = await store.operations.list({ target: vm.id, status: 'succeeded' });
      expect(done.items.map((op) => op.id)).toEqual([created[0]]);
      const all = await store.operations.list({ kind: 'vm.start', limit: 1000 });
      expect(all.items.map((op) => op.id)).toContain(elsewhere.id);
      const bad = await store.operations.list({ cursor: '%%' }).catch((e: unknown) => e);
      expectDomainError(bad, 'VALIDATION_FAILED');

      // Once ended, an operation keeps its outcome against a late writer.
      const open = created[1] ?? '';
      const cancelled = await store.operations.update(
        open,
        { status: 'cancelled' },
        { onlyUnfinished: true },
      );
      expect(cancelled?.status).toBe('cancelled');
      const seq = await store.events.lastSeq();
      expect(
        await store.operations.update(open, { status: 'succeeded' }, { onlyUnfinished: true }),
      ).toBeUndefined();
      expect((await store.operations.get(open))?.status).toBe('cancelled');
      expect(await store.events.lastSeq()).toBe(seq);
    });
  });
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
