import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type { ClusterJoinRequest, ClusterJoinResponse } from '@novacron/api';
import {
  certificateFingerprint,
  clusterAgent,
  clusterRequest,
  createCertificateRequest,
  fetchPinnedCa,
  identityOfCertificate,
  loadIdentity,
  parseJoinToken,
  readText,
  saveIdentity,
  verifyCertificate,
  type TlsIdentity,
} from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import type { AgentLogger } from './logger.js';
import { agentPaths } from './paths.js';
import { describe, serverError } from './server-link.js';

const IDENTITY = 'agent';

/** This host's place in a cluster: its name and the certificate that proves it. */
export interface AgentIdentity {
  /** The host name, from the certificate. */
  name: string;
  tls: TlsIdentity;
}

/** The identity kept in `<dataDir>/agent/pki/`, or undefined when this host has not joined. */
export async function loadAgentIdentity(dataDir: string): Promise<AgentIdentity | undefined> {
  const tls = await loadIdentity(agentPaths(dataDir).pkiDir, IDENTITY);
  if (tls === undefined) return undefined;
  const peer = identityOfCertificate(tls.cert);
  if (peer?.role !== 'agent') {
    throw new DomainError(
      'VALIDATION_FAILED',
      `the certificate in ${agentPaths(dataDir).pkiDir} is not an agent's`,
    );
  }
  return { name: peer.name, tls };
}

/** Keeps an identity made elsewhere (the local agent of `novacron up`). */
export async function saveAgentIdentity(dataDir: string, tls: TlsIdentity): Promise<void> {
  await saveIdentity(agentPaths(dataDir).pkiDir, IDENTITY, tls);
}

export interface JoinOptions {
  /** The server's cluster URL, `https://host:8093`. */
  serverUrl: string;
  /** From `novacron host add NAME`. */
  token: string;
  /** The host name expected; the token decides, and a different one is refused. */
  name?: string;
  /** Addresses the server reaches this agent at, named in its certificate. */
  addresses: readonly string[];
  dataDir: string;
  logger: AgentLogger;
}

/**
 * Joins a cluster (docs/adr/0008-cluster-trust.md): makes a key that never leaves this host and
 * a certificate request; finds the server's CA by the fingerprint in the token before sending
 * anything secret; sends the token and request over TLS that trusts only that CA and only the
 * server's certificate; checks the certificate it gets back; keeps all of it in
 * `<dataDir>/agent/pki/` (key mode 0600).
 */
export async function joinCluster(options: JoinOptions): Promise<AgentIdentity> {
  const { serverUrl, token, logger } = options;
  const parsed = parseJoinToken(token);
  if (parsed === undefined) {
    throw new DomainError('VALIDATION_FAILED', 'that is not a join token (novacron host add NAME)');
  }
  let ca: string;
  try {
    ca = await fetchPinnedCa(serverUrl, parsed.caFingerprint);
  } catch (error) {
    throw new DomainError(
      'AGENT_ERROR',
      `cannot trust the server at ${serverUrl}: ${describe(error)}`,
      {
        server: serverUrl,
      },
    );
  }
  const { keyPem, csrPem } = await createCertificateRequest(
    options.name ?? 'joining',
    options.addresses,
  );
  const body: ClusterJoinRequest = {
    token: token.trim(),
    csr: csrPem,
    ...(options.name === undefined ? {} : { name: options.name }),
  };
  const agent = clusterAgent({ ca }, { role: 'server' });
  let answer: ClusterJoinResponse;
  try {
    const response = await clusterRequest(new URL('/cluster/v1/join', serverUrl), {
      method: 'POST',
      agent,
      body,
      timeoutMs: 30_000,
    });
    const text = await readText(response, 1024 * 1024);
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) throw serverError(status, text);
    answer = JSON.parse(text) as ClusterJoinResponse;
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw new DomainError('AGENT_ERROR', `joining through ${serverUrl} failed: ${describe(error)}`);
  } finally {
    agent.destroy();
  }

  const tls: TlsIdentity = { key: keyPem, cert: answer.certificate, ca };
  await checkIssued(tls, answer, parsed.caFingerprint);
  await saveAgentIdentity(options.dataDir, tls);
  logger.info(
    { host: answer.hostName, server: serverUrl, pki: agentPaths(options.dataDir).pkiDir },
    'joined the cluster',
  );
  return { name: answer.hostName, tls };
}

/** What the server sent back must be a certificate of our key, for the host, from that CA. */
async function checkIssued(
  tls: TlsIdentity,
  answer: ClusterJoinResponse,
  fingerprint: string,
): Promise<void> {
  const fail = (why: string) =>
    new DomainError('AGENT_ERROR', `the server's answer to the join is not usable: ${why}`);
  if (certificateFingerprint(answer.ca) !== fingerprint) throw fail('another CA');
  const check = await verifyCertificate(tls.cert, tls.ca);
  if (!check.ok) throw fail(check.reason ?? 'invalid certificate');
  if (check.identity?.role !== 'agent' || check.identity.name !== answer.hostName) {
    throw fail('the certificate names another host');
  }
  const spki = { format: 'der', type: 'spki' } as const;
  const ours = createPublicKey(createPrivateKey(tls.key)).export(spki);
  if (!ours.equals(new X509Certificate(tls.cert).publicKey.export(spki))) {
    throw fail('the certificate is for another key');
  }
}
