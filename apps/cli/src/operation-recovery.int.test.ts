import { join } from 'node:path';
import { NovaCronClient } from '@novacron/client';
import { loadConfig, type Config } from '@novacron/config';
import { createLogger } from '@novacron/telemetry';
import { killMatching, makeTempDir, pidsMatching, testCacheDir, waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type Embedded } from './embedded.js';

// Operations survive a server restart, with real QEMU: the server stops while one operation is
// in the phase that calls the agent and another has not called it yet, as a killed process leaves
// them; the next start resumes the first and rolls the second back.

let embedded: Embedded | undefined;
let config: Config;
let dataDir: Awaited<ReturnType<typeof makeTempDir>> | undefined;
const logger = createLogger({ level: 'warn' });

async function start(): Promise<NovaCronClient> {
  embedded = await startEmbedded(config, logger, {
    imageCacheDir: join(testCacheDir, 'tiny-image'),
    hostPollMs: 500,
  });
  const login = await new NovaCronClient({ baseUrl: embedded.server.url }).login(
    'admin',
    'integration-test',
  );
  return new NovaCronClient({ baseUrl: embedded.server.url, token: login.accessToken });
}

beforeAll(async () => {
  dataDir = await makeTempDir();
  config = loadConfig(
    {
      NOVACRON_DATA_DIR: dataDir.path,
      NOVACRON_API_PORT: '0',
      NOVACRON_AGENT_PORT: '0',
      NOVACRON_CLUSTER_PORT: '0',
      NOVACRON_WS_PORT: '0',
      NOVACRON_ACCEL: 'tcg',
      NOVACRON_ADMIN_PASSWORD: 'integration-test',
      NOVACRON_LOG_LEVEL: 'warn',
    },
    {},
  );
});

afterAll(async () => {
  await embedded?.close();
  if (dataDir !== undefined) {
    await killMatching(dataDir.path);
    await dataDir.remove();
  }
}, 60_000);

describe('operations interrupted by a server stop, with real QEMU', () => {
  it('resumes a start that had reached its agent call and rolls back a create that had not', async () => {
    let client = await start();
    const create = await client.vms.create({ name: 'sleeper', image: 'tiny', start: false });
    expect(await client.operations.wait(create.id, 120)).toMatchObject({ status: 'succeeded' });
    const sleeper = await client.vms.get('sleeper');
    expect(sleeper.state).toBe('stopped');

    // What a server killed in the middle leaves behind, written as it writes it.
    const { store } = embedded?.server ?? { store: undefined };
    if (store === undefined) throw new Error('server not started');
    await store.vms.update(sleeper.id, { state: 'starting', desiredState: 'running' });
    const resumed = await store.operations.create({
      kind: 'vm.start',
      status: 'running',
      phase: 'start',
      progress: 10,
      target: { type: 'vm', id: sleeper.id, name: sleeper.name },
      project: 'default',
    });
    const ghost = await store.vms.create({
      project: 'default',
      name: 'ghost',
      imageId: sleeper.imageId,
      hostId: (await store.hosts.get(sleeper.host ?? ''))?.id ?? null,
      cpus: 1,
      memoryMiB: 256,
      diskGiB: 1,
      desiredState: 'running',
    });
    const rolledBack = await store.operations.create({
      kind: 'vm.create',
      status: 'running',
      phase: 'started',
      target: { type: 'vm', id: ghost.id, name: ghost.name },
      project: 'default',
    });

    await embedded?.close();
    embedded = undefined;
    client = await start();

    const done = await client.operations.wait(resumed.id, 120);
    expect(done, JSON.stringify(done.error)).toMatchObject({
      status: 'succeeded',
      result: { state: 'running' },
    });
    expect(await client.vms.get('sleeper')).toMatchObject({
      state: 'running',
      desiredState: 'running',
    });
    expect(await pidsMatching(sleeper.id)).toHaveLength(1);
    await waitFor(
      'the resumed guest to print its READY marker',
      async () =>
        (await client.vms.consoleOutput('sleeper')).includes('NOVACRON-GUEST-READY')
          ? true
          : undefined,
      90_000,
      500,
    );

    const ended = await client.operations.wait(rolledBack.id, 60);
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'INTERRUPTED' } });
    expect(ended.error?.message).toMatch(/rolled back: VM ghost removed/);
    await expect(client.vms.get('ghost')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    expect(await pidsMatching(ghost.id)).toEqual([]);
  }, 240_000);
});
