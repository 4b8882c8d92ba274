import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { DomainError } from '@novacron/domain';
import Fastify from 'fastify';
import { authenticator } from './authenticate.js';
import type { ServerApp, ServerDeps } from './deps.js';
import { handleError } from './errors.js';
import { registerLogin } from './routes/auth/login.js';
import { registerHealth } from './routes/health.js';
import { registerHostGet } from './routes/hosts/get.js';
import { registerHostList } from './routes/hosts/list.js';
import { registerImageGet } from './routes/images/get.js';
import { registerImageList } from './routes/images/list.js';
import { registerOperationGet } from './routes/operations/get.js';
import { registerOperationWait } from './routes/operations/wait.js';
import { registerVmAction } from './routes/vms/action.js';
import { registerVmConsoleOutput } from './routes/vms/console-output.js';
import { registerVmCreate } from './routes/vms/create.js';
import { registerVmDelete } from './routes/vms/delete.js';
import { registerVmGet } from './routes/vms/get.js';
import { registerVmList } from './routes/vms/list.js';

const ROUTES = [
  registerHealth,
  registerLogin,
  registerVmCreate,
  registerVmList,
  registerVmGet,
  registerVmAction,
  registerVmDelete,
  registerVmConsoleOutput,
  registerHostList,
  registerHostGet,
  registerImageList,
  registerImageGet,
  registerOperationGet,
  registerOperationWait,
];

/** The control plane's HTTP application, without `listen` (tests use `inject`). */
export function buildApp(deps: ServerDeps): ServerApp {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: 1024 * 1024,
    // Slow clients are cut off instead of holding a socket forever.
    requestTimeout: 120_000,
    connectionTimeout: 10_000,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler((error, request, reply) => handleError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    handleError(
      new DomainError(
        'ROUTE_NOT_FOUND',
        `no route ${request.method} ${request.url.split('?', 1)[0] ?? ''}`,
      ),
      request,
      reply,
    ),
  );
  app.addHook('onRequest', authenticator(deps));
  for (const register of ROUTES) register(app, deps);
  return app;
}
