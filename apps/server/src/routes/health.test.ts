import { tmpdir } from 'node:os';
import { AccessTokens, newSigningSecret } from '@novacron/auth';
import { openSqliteTestStore, systemClock, type TestStore } from '@novacron/store';
import { createLogger } from '@novacron/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../app.js';
import type { ServerApp } from '../deps.js';
import { HostService } from '../services/hosts.js';
import { OperationRunner } from '../services/operations.js';
import { VmService } from '../services/vms.js';
import { ImageService } from '../services/images.js';
import { Readiness } from './health.js';

let testStore: TestStore;
let operations: OperationRunner;
let readiness: Readiness;
let app: ServerApp;

beforeEach(async () => {
  testStore = await openSqliteTestStore();
  const { store } = testStore;
  const logger = createLogger({ level: 'silent' });
  const hosts = new HostService(store, systemClock, logger);
  operations = new OperationRunner(store, systemClock, logger);
  const vms = new VmService(store, hosts, operations);
  const tokens = new AccessTokens(newSigningSecret());
  readiness = new Readiness();
  app = buildApp({
    store,
    tokens,
    clock: systemClock,
    logger,
    hosts,
    operations,
    vms,
    images: new ImageService(store, operations, tmpdir()),
    readiness,
  });
});

afterEach(async () => {
  await app.close();
  await operations.close();
  await testStore.cleanup();
});

describe('/readyz', () => {
  it('answers 503 while starting and while stopping, 200 in between, without a token', async () => {
    const starting = await app.inject({ url: '/readyz' });
    expect(starting.statusCode).toBe(503);
    expect(starting.json()).toEqual({ status: 'not-ready', reason: 'starting' });

    readiness.ready();
    const ready = await app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });

    readiness.notReady('stopping');
    expect((await app.inject({ url: '/readyz' })).json()).toEqual({
      status: 'not-ready',
      reason: 'stopping',
    });
  });

  it('answers 503 when the store does not answer, without saying more than that', async () => {
    readiness.ready();
    await testStore.store.close();
    const response = await app.inject({ url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ status: 'not-ready', reason: 'the store does not answer' });
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });
});
