/**
 * @novacron/api — the wire contract. TypeBox schemas of every request, response, event and error
 * body; the server validates with them, the client is typed by them, the OpenAPI document is
 * generated from them. Imports nothing from the workspace and does no IO.
 */
export {
  ERROR_CODES,
  ErrorBody,
  ErrorCodeSchema,
  ErrorDetail,
  httpStatusOf,
  type ErrorCode,
} from './errors.js';
export {
  Id,
  IdOrName,
  IdOrNameParams,
  Labels,
  LabelsPatch,
  ListQuery,
  Name,
  NAME_PATTERN,
  Page,
  Timestamp,
} from './common.js';
export {
  ConsoleOutputQuery,
  KERNEL_ARGS_PATTERN,
  LABEL_SELECTOR_PATTERN,
  MAX_LABEL_SELECTORS,
  MAX_VM_CPUS,
  MAX_VM_DESCRIPTION_LENGTH,
  MAX_VM_DISK_GIB,
  MAX_VM_MEMORY_MIB,
  RESTART_POLICIES,
  RestartPolicy,
  Vm,
  VM_ACTIONS,
  VM_STATES,
  VmAction,
  VmCreate,
  VmDeleteQuery,
  VmDescription,
  VmDesiredState,
  VmListQuery,
  VmPage,
  VmPatch,
  VmState,
  type VmActionName,
} from './vm.js';
export {
  Operation,
  OPERATION_KINDS,
  OPERATION_STATUSES,
  OperationKind,
  OperationListQuery,
  OperationPage,
  OperationStatus,
  OperationWaitQuery,
  TERMINAL_OPERATION_STATUSES,
} from './operation.js';
export { Accelerator, Host, HOST_STATES, HostPage, HostPatch, HostState } from './host.js';
export { Image, ImageImport, ImageKind, ImagePage, ImageStatus } from './image.js';
export { LoginRequest, LoginResponse } from './auth.js';
export {
  Event,
  EVENT_STREAM_CLOSE_CODES,
  EVENT_TYPE_PATTERN,
  EVENT_TYPES,
  EventStreamAuth,
  EventStreamClientMessage,
  EventStreamError,
  EventStreamQuery,
  EventStreamServerMessage,
  EventStreamSubscribe,
  EventStreamSubscribed,
  EventType,
  EventTypePattern,
  MAX_EVENT_TYPE_PATTERNS,
} from './event.js';
export { AgentHostInfo, AgentVmSpec, AgentVmStateChange, AgentVmStatus } from './agent.js';
export {
  HeartbeatMetrics,
  HostMetricsSample,
  HostMetricsSeries,
  MetricsQuery,
  VmDiskCounters,
  VmMetricsSample,
  VmMetricsSeries,
} from './metrics.js';
export {
  ClusterHeartbeat,
  ClusterHeartbeatReply,
  ClusterHostFacts,
  ClusterJoinRequest,
  ClusterJoinResponse,
  HostAdd,
  HostJoinToken,
  IMAGE_FILE_NAMES,
  IMAGE_FILES,
  ImageFileParams,
  JOIN_TOKEN_PATTERN,
  type ImageFileName,
} from './cluster.js';
