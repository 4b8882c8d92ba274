/**
 * @novacron/agent — the host agent: owns this host's QEMU processes over QMP, their disks and
 * consoles, and serves the agent API the server calls (ARCHITECTURE.md §4). A composition root:
 * it wires @novacron/qemu, @novacron/qmp and Fastify together; no other package may import it
 * except the CLI that runs it. It never kills VMs when it stops: QEMU outlives the agent.
 */
export { buildAgentApp, type AgentAppDeps } from './app.js';
export { startClusterAgent, type ClusterAgentOptions } from './cluster-agent.js';
export {
  joinCluster,
  loadAgentIdentity,
  saveAgentIdentity,
  type AgentIdentity,
  type JoinOptions,
} from './identity.js';
export { ImageCache, type ImageFetcher, type ImageSource } from './image-cache.js';
export type { AgentLogger } from './logger.js';
export {
  advertisedHost,
  agentAddresses,
  startAgent,
  type RunningAgent,
  type StartAgentOptions,
} from './start-agent.js';
export { stopAllVms, type StopAllVmsOptions } from './stop-all.js';
export { VmManager, type VmManagerOptions } from './vm-manager.js';
export { VmStateDir } from './vm-state-dir.js';
export { agentPaths, type AgentPaths } from './paths.js';
