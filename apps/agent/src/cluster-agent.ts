import type { Config } from '@novacron/config';
import { parseJoinToken, certificateFingerprint } from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import { joinCluster, loadAgentIdentity, type AgentIdentity } from './identity.js';
import type { AgentLogger } from './logger.js';
import { agentAddresses, startAgent, type RunningAgent } from './start-agent.js';

export interface ClusterAgentOptions {
  config: Pick<Config, 'agentHost' | 'agentPort' | 'accel' | 'dataDir' | 'heartbeatIntervalMs'> &
    Partial<Pick<Config, 'sharedPoolDir'>>;
  logger: AgentLogger;
  /** The server's cluster URL, `https://host:8093`. */
  serverUrl: string;
  /** A join token from `novacron host add NAME`; needed only the first time. */
  joinToken?: string;
  /** The host name expected (the token is bound to one). */
  name?: string;
  /** The address this agent listens on and the server dials (default NOVACRON_AGENT_HOST). */
  address?: string;
}

/**
 * `novacron agent`: joins the cluster with the token the first time, reuses the identity kept in
 * `<dataDir>/agent/pki/` afterwards, and runs the agent against the server.
 */
export async function startClusterAgent(
  options: ClusterAgentOptions,
): Promise<RunningAgent & { name: string }> {
  const { config, logger } = options;
  const url = new URL(options.serverUrl);
  if (url.protocol !== 'https:') {
    throw new DomainError(
      'VALIDATION_FAILED',
      `--server is the server's cluster URL, https://host:8093 (not ${url.protocol}//)`,
    );
  }
  const serverUrl = url.origin;
  const listenHost = options.address ?? config.agentHost;
  const identity = await identityFor(options, serverUrl, listenHost);
  const agent = await startAgent({
    config: { ...config, agentHost: listenHost },
    logger,
    identity,
    serverUrl,
    ...(options.address === undefined ? {} : { advertiseHost: options.address }),
  });
  return { ...agent, name: identity.name };
}

async function identityFor(
  options: ClusterAgentOptions,
  serverUrl: string,
  listenHost: string,
): Promise<AgentIdentity> {
  const { config, logger, joinToken, name } = options;
  const stored = await loadAgentIdentity(config.dataDir);
  if (joinToken !== undefined) {
    const token = parseJoinToken(joinToken);
    // Run again with the same command line, a host that has joined stays what it is.
    if (
      stored !== undefined &&
      token !== undefined &&
      certificateFingerprint(stored.tls.ca) === token.caFingerprint &&
      (name === undefined || name === stored.name)
    ) {
      logger.info({ host: stored.name }, 'already joined this cluster; the token was not used');
      return stored;
    }
    return joinCluster({
      serverUrl,
      token: joinToken,
      ...(name === undefined ? {} : { name }),
      addresses: agentAddresses(listenHost, options.address),
      dataDir: config.dataDir,
      logger,
    });
  }
  if (stored === undefined) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `this machine has not joined a cluster (nothing in ${config.dataDir}/agent/pki): run 'novacron host add NAME' as an admin, then 'novacron agent --server URL --join TOKEN'`,
    );
  }
  if (name !== undefined && name !== stored.name) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `this machine joined as host '${stored.name}', not '${name}'`,
    );
  }
  return stored;
}
