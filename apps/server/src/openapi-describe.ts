import { createLogger } from '@novacron/telemetry';
import { buildApp } from './app.js';
import type { Store } from '@novacron/store';
import type { ServerDeps } from './deps.js';
import { AuditService } from './services/audit.js';
import { LoginGuard } from './services/login-guard.js';
import type { OpenApiDocument } from './openapi.js';
import { OPENAPI_PATH } from './routes/docs/openapi.js';

/**
 * The OpenAPI document without a running server (for `npm run docs`). The routes are registered
 * and never called, so the services they close over are never used: any use throws, which keeps
 * route registration free of side effects.
 */
export async function describeApi(): Promise<OpenApiDocument> {
  const logger = createLogger({ level: 'silent' });
  const unusedStore = new Proxy({} as Store, {
    get(_target, key) {
      throw new Error(
        `describeApi: a route used the store (${String(key)}) while being registered`,
      );
    },
  });
  // buildApp would make an audit log over the store: this one never writes.
  const audit = new AuditService(unusedStore, logger);
  const loginGuard = new LoginGuard({
    now: () => {
      throw new Error('describeApi: a route used the clock while being registered');
    },
  });
  // The request caches buildApp would make read the store when built: stand-ins that never do.
  const principals = { guard: (store: Store) => store };
  const deps = new Proxy(
    {
      logger,
      audit,
      loginGuard,
      principals,
      vmCache: {},
      store: unusedStore,
    } as unknown as ServerDeps,
    {
      get(target, key) {
        if (
          key === 'logger' ||
          key === 'then' ||
          key === 'audit' ||
          key === 'loginGuard' ||
          key === 'principals' ||
          key === 'vmCache' ||
          key === 'store'
        ) {
          return target[key as keyof ServerDeps];
        }
        throw new Error(`describeApi: a route used deps.${String(key)} while being registered`);
      },
    },
  );
  const app = buildApp(deps);
  try {
    const response = await app.inject({ url: OPENAPI_PATH });
    if (response.statusCode !== 200) {
      throw new Error(`${OPENAPI_PATH} answered ${response.statusCode}: ${response.body}`);
    }
    return response.json<OpenApiDocument>();
  } finally {
    await app.close();
  }
}
