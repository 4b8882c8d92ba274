import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { DomainError } from '@novacron/domain';
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import { authorizer, requirePermissions } from './authorization.js';
import type { AppDeps, ServerApp, ServerDeps } from './deps.js';
import { handleClientError, handleError } from './errors.js';
import { recordRoutes } from './openapi.js';
import { defaultWebUiDir, isWebUiRequest, webUiHandler } from './web-ui.js';
import { PrincipalCache } from './principal-cache.js';
import { lazyRequestLogger } from './request-logger.js';
import { VmCache } from './vm-cache.js';
import { registerLogin } from './routes/auth/login.js';
import { registerLoginSecondFactor } from './routes/auth/second-factor.js';
import { registerLoginTotpEnrol } from './routes/auth/totp-login-enrol.js';
import { registerTotpDisable } from './routes/auth/totp-disable.js';
import { registerTotpEnrol } from './routes/auth/totp-enrol.js';
import { registerTotpRequired } from './routes/auth/totp-required.js';
import { registerTotpStatus } from './routes/auth/totp-status.js';
import { registerTotpVerify } from './routes/auth/totp-verify.js';
import { registerServerMetrics } from './routes/metrics.js';
import { addRequestHooks } from './request-hooks.js';
import { auditLockouts, LoginGuard } from './services/login-guard.js';
import { registerAuditList } from './routes/audit/list.js';
import { registerLogout } from './routes/auth/logout.js';
import { registerRefresh } from './routes/auth/refresh.js';
import { registerProjectCreate } from './routes/projects/create.js';
import { registerProjectDelete } from './routes/projects/delete.js';
import { registerProjectGet } from './routes/projects/get.js';
import { registerProjectList } from './routes/projects/list.js';
import { registerProjectPatch } from './routes/projects/patch.js';
import { registerTokenCreate } from './routes/tokens/create.js';
import { registerTokenList } from './routes/tokens/list.js';
import { registerTokenRevoke } from './routes/tokens/revoke.js';
import { registerUserCreate } from './routes/users/create.js';
import { registerUserDelete } from './routes/users/delete.js';
import { registerUserList } from './routes/users/list.js';
import { registerUserPassword } from './routes/users/password.js';
import { registerUserRoleRemove } from './routes/users/role-remove.js';
import { registerUserRoleSet } from './routes/users/role-set.js';
import { registerOpenApi } from './routes/docs/openapi.js';
import { registerApiReference } from './routes/docs/reference.js';
import { registerEventStream } from './routes/events/watch.js';
import { registerHealth } from './routes/health.js';
import { registerHostAdd } from './routes/hosts/add.js';
import { registerHostGet } from './routes/hosts/get.js';
import { registerHostList } from './routes/hosts/list.js';
import { registerHostMetrics } from './routes/hosts/metrics.js';
import { registerHostPatch } from './routes/hosts/patch.js';
import { registerHostCordon } from './routes/hosts/cordon.js';
import { registerHostDrain } from './routes/hosts/drain.js';
import { registerHostUncordon } from './routes/hosts/uncordon.js';
import { registerSchedulerExplain } from './routes/scheduler/explain.js';
import { registerImageDelete } from './routes/images/delete.js';
import { registerImageGet } from './routes/images/get.js';
import { registerImageImport } from './routes/images/import.js';
import { registerImageUpload } from './routes/images/upload.js';
import { registerImageList } from './routes/images/list.js';
import { registerOperationCancel } from './routes/operations/cancel.js';
import { registerOperationGet } from './routes/operations/get.js';
import { registerOperationList } from './routes/operations/list.js';
import { registerOperationWait } from './routes/operations/wait.js';
import { registerVmAction } from './routes/vms/action.js';
import { registerVmConsoleStream } from './routes/vms/console.js';
import { registerVmConsoleOutput } from './routes/vms/console-output.js';
import { registerVmCreate } from './routes/vms/create.js';
import { registerVmDelete } from './routes/vms/delete.js';
import { registerVmGet } from './routes/vms/get.js';
import { registerVmCloudInitGet } from './routes/vms/cloud-init-get.js';
import { registerVmList } from './routes/vms/list.js';
import { registerVmMetrics } from './routes/vms/metrics.js';
import { registerVmMigrate } from './routes/vms/migrate.js';
import { registerVmMigratePlan } from './routes/vms/migrate-plan.js';
import { registerVmPatch } from './routes/vms/patch.js';
import { registerVmDeviceRemove } from './routes/vms/device-remove.js';
import { registerVmDiskAdd } from './routes/vms/disk-add.js';
import { registerVmHardwareGet } from './routes/vms/hardware-get.js';
import { registerVmNicAdd } from './routes/vms/nic-add.js';
import { registerVmResize } from './routes/vms/resize.js';
import { registerVmVnc } from './routes/vms/vnc.js';
import { registerVmClone } from './routes/vms/clone.js';
import { registerVmSnapshotCreate } from './routes/vms/snapshot-create.js';
import { registerVmSnapshotDelete } from './routes/vms/snapshot-delete.js';
import { registerVmSnapshotList } from './routes/vms/snapshot-list.js';
import { registerVmSnapshotRevert } from './routes/vms/snapshot-revert.js';
import { registerVmTemplate } from './routes/vms/template.js';
import { validatorCompiler } from './validation.js';
import { AuditService } from './services/audit.js';

const ROUTES = [
  registerHealth,
  registerLogin,
  registerRefresh,
  registerLogout,
  registerProjectCreate,
  registerProjectList,
  registerProjectGet,
  registerProjectPatch,
  registerProjectDelete,
  registerUserCreate,
  registerUserList,
  registerUserDelete,
  registerUserPassword,
  registerUserRoleSet,
  registerUserRoleRemove,
  registerTokenCreate,
  registerTokenList,
  registerTokenRevoke,
  registerAuditList,
  registerLoginSecondFactor,
  registerLoginTotpEnrol,
  registerTotpStatus,
  registerTotpEnrol,
  registerTotpVerify,
  registerTotpDisable,
  registerTotpRequired,
  registerServerMetrics,
  registerVmCreate,
  registerVmList,
  registerVmGet,
  registerVmCloudInitGet,
  registerVmPatch,
  registerVmHardwareGet,
  registerVmResize,
  registerVmDiskAdd,
  registerVmNicAdd,
  registerVmDeviceRemove,
  registerVmAction,
  registerVmDelete,
  registerVmConsoleOutput,
  registerVmMetrics,
  registerVmMigrate,
  registerVmMigratePlan,
  registerVmSnapshotList,
  registerVmSnapshotCreate,
  registerVmSnapshotRevert,
  registerVmSnapshotDelete,
  registerVmClone,
  registerVmTemplate,
  registerHostList,
  registerHostGet,
  registerHostMetrics,
  registerHostAdd,
  registerHostPatch,
  registerHostCordon,
  registerHostUncordon,
  registerHostDrain,
  registerSchedulerExplain,
  registerImageList,
  registerImageGet,
  registerImageImport,
  registerImageUpload,
  registerImageDelete,
  registerOperationList,
  registerOperationGet,
  registerOperationWait,
  registerOperationCancel,
  registerOpenApi,
  registerApiReference,
];

/** The WebSocket routes: the event stream and the consoles. */
const STREAM_ROUTES = [registerEventStream, registerVmConsoleStream, registerVmVnc];

/** Limits on what a client may send; tests pass short ones. */
export interface AppLimits {
  /** Largest request body, in bytes (PAYLOAD_TOO_LARGE above it). Default 1 MiB. */
  bodyLimit?: number;
  /** Time to receive a whole request, headers and body (REQUEST_TIMEOUT after it). Default 120 s. */
  requestTimeoutMs?: number;
  /** Time a connection may stay silent. Default 10 s. */
  connectionTimeoutMs?: number;
}

/** The control plane's HTTP application, without `listen` (tests use `inject`). */
export function buildApp(appDeps: AppDeps, limits: AppLimits = {}): ServerApp {
  // Security writes through the app's store drop the callers it resolved (ADR 21).
  const principals = appDeps.principals ?? new PrincipalCache(appDeps.clock);
  const deps: ServerDeps = {
    ...appDeps,
    store: principals.guard(appDeps.store),
    principals,
    vmCache: appDeps.vmCache ?? new VmCache(appDeps.store, appDeps.clock),
    audit: appDeps.audit ?? new AuditService(appDeps.store, appDeps.logger),
    loginGuard: appDeps.loginGuard ?? new LoginGuard(appDeps.clock),
  };
  auditLockouts(deps.loginGuard, deps.audit, deps.logger);
  const requestTimeout = limits.requestTimeoutMs ?? 120_000;
  const app = Fastify({
    loggerInstance: deps.logger,
    childLoggerFactory: lazyRequestLogger,
    bodyLimit: limits.bodyLimit ?? 1024 * 1024,
    // Slow clients are cut off instead of holding a socket forever. Node checks the request
    // timeout on an interval: keep it well under the timeout, so the cut comes on time.
    requestTimeout,
    connectionTimeout: limits.connectionTimeoutMs ?? 10_000,
    http: {
      headersTimeout: Math.min(60_000, requestTimeout),
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, requestTimeout / 4)),
    },
    clientErrorHandler: handleClientError,
    // The router's own refusals (a bad URL, an overlong parameter) get the usual error body.
    frameworkErrors: (error, request, reply) => handleError(error, request, reply),
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Bodies exactly as sent; query strings, params and headers converted only when exact.
  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler((error, request, reply) => handleError(error, request, reply));
  // Paths outside the API are the web dashboard's (docs/adr/0025-web-build-and-serving.md).
  const webUi = webUiHandler(deps.webUiDir ?? defaultWebUiDir());
  app.setNotFoundHandler((request, reply) =>
    isWebUiRequest(request)
      ? webUi(request, reply)
      : handleError(
          new DomainError(
            'ROUTE_NOT_FOUND',
            `no route ${request.method} ${request.url.split('?', 1)[0] ?? ''}`,
          ),
          request,
          reply,
        ),
  );
  addRequestHooks(app, deps, deps.audit);
  if (deps.serverMetrics !== undefined) {
    const { serverMetrics } = deps;
    deps.loginGuard.hooks.onResult = (result) => serverMetrics.recordLogin(result);
  }
  // Each route's declared permission, checked in this one place (docs/adr/0016-security-model.md).
  app.addHook('preValidation', authorizer(deps));
  // Before any route: a route without a permission fails here, at startup.
  requirePermissions(app);
  // Before any route: the OpenAPI document is generated from what this records.
  recordRoutes(app);
  for (const register of ROUTES) register(app, deps);
  // The WebSocket plugin's hooks (an onRequest and an onResponse, which makes Fastify listen for
  // each response's end) in a scope of their own: they run for its streams only (ADR 26).
  // Not awaited: each stream adds its hooks now, before the plugin's own (the event stream's
  // preClose must close its clients with a code first), and its routes once the plugin loaded.
  void app.register((streams: ServerApp, _options, done) => {
    // Client frames are small JSON messages (auth, subscribe).
    void streams.register(websocket, { options: { maxPayload: 64 * 1024 } });
    for (const register of STREAM_ROUTES) register(streams, deps);
    done();
  });
  const { vmCache } = deps;
  if (appDeps.vmCache === undefined) app.addHook('onClose', () => vmCache?.close());
  return app;
}
