/**
 * @novacron/client — the typed REST client of NovaCron, used by the CLI, the web UI, the agent and
 * the end-to-end tests. Typed by the schemas of @novacron/api and imports nothing else from the
 * workspace; talks HTTP through fetch, and streams events over a WebSocket (the runtime's own, or
 * an injected one such as the ws package's in Node). Errors come back as NovaCronApiError (the
 * server's code, message and details) or NovaCronConnectionError.
 */
export {
  HostsResource,
  ImagesResource,
  NovaCronClient,
  OperationsResource,
  SchedulerResource,
  VmsResource,
  type Health,
  type NovaCronClientOptions,
  type OperationWaitOptions,
} from './client.js';
export {
  consoleUrl,
  openConsoleStream,
  type ConsoleKind,
  type ConsoleSocketConstructor,
  type ConsoleSocketLike,
  type ConsoleStream,
  type ConsoleStreamOptions,
} from './console.js';
export {
  eventsUrl,
  openEventStream,
  type EventStream,
  type EventStreamOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from './events.js';
export {
  AuditResource,
  ProjectsResource,
  TokensResource,
  UsersResource,
  type JsonTransport,
} from './security.js';
export {
  isNovaCronError,
  NovaCronApiError,
  NovaCronConnectionError,
  NovaCronError,
} from './errors.js';
