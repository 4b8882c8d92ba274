/**
 * @novacron/telemetry — the pino logger every process uses (secrets redacted) and the
 * Prometheus registries and metric names. May import @novacron/api, domain and config only.
 */
export { createLogger, type Logger } from './logger.js';
export {
  AgentMetricsRegistry,
  METRIC_NAMES,
  type HostMetricsInput,
  type VmMetricsInput,
} from './metrics.js';
export {
  SERVER_METRIC_NAMES,
  ServerMetricsRegistry,
  type LoginResult,
  type StateCounts,
} from './server-metrics.js';
