/**
 * @novacron/qmp — a client for the QEMU Machine Protocol over a unix socket: greeting and
 * capabilities negotiation, typed commands matched to replies by id, per-command deadlines,
 * events as an async iterable and named errors; plus a FakeQmpServer for unit tests of the layers
 * above. Imports nothing from the workspace (it is a protocol adapter, not a NovaCron concept).
 */
export { QmpClient, type QmpConnectOptions, type QmpEventsOptions } from './client.js';
export {
  QmpCommandError,
  QmpDisconnectedError,
  QmpError,
  QmpProtocolError,
  QmpTimeoutError,
  type QmpErrorCode,
} from './errors.js';
export {
  FakeQmpCommandError,
  FakeQmpServer,
  type FakeQmpHandler,
  type FakeQmpServerOptions,
} from './fake-server.js';
export type {
  QmpArgs,
  QmpCommandName,
  QmpCommands,
  QmpBlockStats,
  QmpCpuInfoFast,
  QmpEvent,
  QmpExecuteOptions,
  QmpGreeting,
  QmpReturn,
  QmpRunState,
  QmpStatusInfo,
  QmpVersion,
  QmpVersionTriple,
} from './types.js';
