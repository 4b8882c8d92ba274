import { DomainError } from '@novacron/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type Store, type TestStore } from './index.js';

// Projects, role bindings, API tokens, session rotation and the audit log: the security part of
// the store contract, on SQLite always and on PostgreSQL when it answers.
const databases = await testDatabases({
  postgresUrl: process.env.NOVACRON_TEST_DATABASE_URL,
  requirePostgres: process.env.NOVACRON_TEST_REQUIRE_POSTGRES === '1',
});

function codeOf(error: unknown): string | undefined {
  return error instanceof DomainError ? error.code : undefined;
}

for (const database of databases) {
  describe.skipIf(database.skip !== undefined)(`security store on ${database.dialect}`, () => {
    let testStore: TestStore | undefined;
    let store: Store;

    beforeAll(async () => {
      testStore = await database.open();
      store = testStore.store;
    });

    afterAll(async () => {
      await testStore?.cleanup();
    });

    it('keeps projects with quotas, sums their VMs, and deletes only empty ones', async () => {
      const project = await store.projects.create('quota', { maxVcpus: 4, maxVms: 2 });
      expect(project.quotas).toEqual({
        maxVcpus: 4,
        maxMemoryMiB: null,
        maxDiskGiB: null,
        maxVms: 2,
      });
      expect(codeOf(await store.projects.create('quota').catch((e: unknown) => e))).toBe(
        'PROJECT_NAME_TAKEN',
      );
      const lifted = await store.projects.setQuotas('quota', { maxVcpus: null, maxDiskGiB: 10 });
      expect(lifted?.quotas).toMatchObject({ maxVcpus: null, maxDiskGiB: 10, maxVms: 2 });
      expect(await store.projects.usage('quota')).toEqual({
        vcpus: 0,
        memoryMiB: 0,
        diskGiB: 0,
        vms: 0,
      });
      const image = await store.images.create({
        name: 'img',
        project: 'quota',
        kind: 'kernel',
        status: 'ready',
        builtin: false,
        sizeBytes: 1,
        defaultKernelArgs: '',
        sha256: 'x',
      });
      for (const [name, cpus] of [
        ['a', 1],
        ['b', 2],
      ] as const) {
        await store.vms.create({
          project: 'quota',
          name,
          imageId: image.id,
          cpus,
          memoryMiB: 128,
          diskGiB: 1,
          desiredState: 'stopped',
        });
      }
      expect(await store.projects.usage('quota')).toEqual({
        vcpus: 3,
        memoryMiB: 256,
        diskGiB: 2,
        vms: 2,
      });
      expect(codeOf(await store.projects.delete('quota').catch((e: unknown) => e))).toBe(
        'PROJECT_NOT_EMPTY',
      );
      const page = await store.vms.list({ projects: ['quota'] });
      expect(page.items.map((vm) => vm.name)).toEqual(['a', 'b']);
      expect((await store.vms.list({ projects: [] })).items).toEqual([]);
      await store.projects.create('empty');
      expect(await store.projects.delete('empty')).toBe(true);
      expect(await store.projects.delete('empty')).toBe(false);
    });

    it('makes writers that lock a project take turns', async () => {
      await store.projects.create('locked');
      const order: string[] = [];
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked = () => {};
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const first = store.transaction(async (tx) => {
        await tx.projects.lock('locked');
        locked();
        await held;
        order.push('first');
      });
      await isLocked;
      const second = store.transaction(async (tx) => {
        await tx.projects.lock('locked');
        order.push('second');
      });
      // Were the lock not held, the second writer would finish during this pause.
      await new Promise((resolve) => setTimeout(resolve, 50));
      release();
      await Promise.all([first, second]);
      expect(order).toEqual(['first', 'second']);
    });

    it('binds and unbinds users per project, and drops everything of a deleted user', async () => {
      await store.projects.create('bind');
      const user = await store.users.create({
        username: 'u-bind',
        passwordHash: 'x',
        role: 'none',
      });
      await store.users.bind(user.id, 'bind', 'viewer');
      await store.users.bind(user.id, 'bind', 'operator');
      await store.users.bind(user.id, 'default', 'viewer');
      expect(await store.users.bindings(user.id)).toEqual([
        { project: 'bind', role: 'operator' },
        { project: 'default', role: 'viewer' },
      ]);
      expect(
        codeOf(await store.users.bind(user.id, 'nope', 'viewer').catch((e: unknown) => e)),
      ).toBe('PROJECT_NOT_FOUND');
      expect(await store.users.unbind(user.id, 'bind')).toBe(true);
      expect(await store.users.unbind(user.id, 'bind')).toBe(false);
      expect(await store.users.bindings(user.id)).toEqual([{ project: 'default', role: 'viewer' }]);
      expect(codeOf(await store.users.unbind(user.id, 'nope').catch((e: unknown) => e))).toBe(
        'PROJECT_NOT_FOUND',
      );
      expect(await store.users.setPasswordHash(user.id, 'y')).toBe(true);
      expect((await store.users.get(user.id))?.passwordHash).toBe('y');
      const token = await store.apiTokens.create({
        name: 'ci',
        userId: user.id,
        project: 'bind',
        role: 'viewer',
        tokenHash: 'hash-bind',
        expiresAt: new Date('2030-01-01T00:00:00Z'),
      });
      expect(await store.users.delete(user.id)).toBe(true);
      expect(await store.users.bindings(user.id)).toEqual([]);
      expect(await store.apiTokens.get(token.id)).toBeUndefined();
    });

    it('finds API tokens by hash only, revokes once, and records their use', async () => {
      const user = await store.users.create({ username: 'u-tok', passwordHash: 'x', role: 'none' });
      const token = await store.apiTokens.create({
        name: 'ci',
        userId: user.id,
        project: 'default',
        role: 'operator',
        tokenHash: 'hash-tok',
        expiresAt: '2030-01-01T00:00:00.000Z',
      });
      expect(token).toMatchObject({
        username: 'u-tok',
        project: 'default',
        role: 'operator',
        revokedAt: null,
        lastUsedAt: null,
      });
      expect((await store.apiTokens.getByHash('hash-tok'))?.id).toBe(token.id);
      expect(await store.apiTokens.getByHash('other')).toBeUndefined();
      await store.apiTokens.markUsed(token.id);
      expect((await store.apiTokens.get(token.id))?.lastUsedAt).not.toBeNull();
      expect((await store.apiTokens.list(user.id)).map((t) => t.id)).toEqual([token.id]);
      expect(await store.apiTokens.revoke(token.id)).toBe(true);
      expect(await store.apiTokens.revoke(token.id)).toBe(false);
      expect((await store.apiTokens.get(token.id))?.revokedAt).not.toBeNull();
    });

    it('rotates a refresh token once and remembers the old one', async () => {
      const user = await store.users.create({ username: 'u-ses', passwordHash: 'x', role: 'none' });
      const session = await store.sessions.create({
        userId: user.id,
        refreshTokenHash: 'r1',
        expiresAt: new Date('2030-01-01T00:00:00Z'),
      });
      expect(await store.sessions.getWithUser(session.id)).toEqual({
        session,
        user: await store.users.get(user.id),
      });
      expect(await store.sessions.getWithUser('nope')).toBeUndefined();
      expect(await store.sessions.rotate(session.id, 'r1', 'r2')).toBe(true);
      // A second rotation from the same old token loses: it is the replay.
      expect(await store.sessions.rotate(session.id, 'r1', 'r3')).toBe(false);
      expect((await store.sessions.getByRefreshTokenHash('r2'))?.id).toBe(session.id);
      expect(await store.sessions.getByRefreshTokenHash('r1')).toBeUndefined();
      expect((await store.sessions.getByRotatedHash('r1'))?.id).toBe(session.id);
      await store.sessions.revoke(session.id);
      expect(await store.sessions.rotate(session.id, 'r2', 'r4')).toBe(false);
      const other = await store.sessions.create({
        userId: user.id,
        refreshTokenHash: 'r5',
        expiresAt: new Date('2030-01-01T00:00:00Z'),
      });
      expect(await store.sessions.revokeAllOf(user.id)).toBe(1);
      expect((await store.sessions.get(other.id))?.revokedAt).not.toBeNull();
    });

    it('appends audit entries with an event, and lists them newest first with filters', async () => {
      const since = await store.events.lastSeq();
      const first = await store.audit.append({
        actor: 'alice',
        action: 'vm.create',
        target: { type: 'vms', name: 'web' },
        project: 'default',
        sourceAddress: '127.0.0.1',
        result: 'success',
      });
      const second = await store.audit.append({
        actor: null,
        action: 'auth.login',
        sourceAddress: '10.0.0.9',
        result: 'INVALID_CREDENTIALS',
        details: { status: 401 },
      });
      const events = await store.events.list({ since, types: ['audit.recorded'] });
      expect(events.map((event) => event.data)).toEqual([first, second]);
      expect(second.seq).toBeGreaterThan(first.seq);
      const all = await store.audit.list({ limit: 1 });
      expect(all.items[0]).toEqual(second);
      const next = await store.audit.list({ limit: 1, cursor: all.nextCursor ?? '' });
      expect(next.items[0]).toEqual(first);
      expect((await store.audit.list({ actor: 'alice' })).items).toEqual([first]);
      expect((await store.audit.list({ action: 'auth.login' })).items).toEqual([second]);
      expect((await store.audit.list({ until: first.time })).items).toEqual([]);
      expect(codeOf(await store.audit.list({ cursor: '!!' }).catch((e: unknown) => e))).toBe(
        'VALIDATION_FAILED',
      );
      // Append-only: the repository has no way to change or remove an entry.
      expect(Object.keys(store.audit).sort()).toEqual(['append', 'list']);
    });
  });
}
