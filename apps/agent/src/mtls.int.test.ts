import type { AgentHostInfo, ErrorBody } from '@novacron/api';
import {
  ClusterCa,
  clusterAgent,
  clusterRequest,
  readText,
  SERVER_PEER_NAME,
  type TlsIdentity,
} from '@novacron/auth';
import { makeTempDir } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from './start-agent.js';

// The agent API over real TLS sockets answers the server's certificate only (ADR 8): callers
// without a certificate, with a forged, expired or foreign-CA one are cut off by TLS itself,
// and another agent's valid cluster certificate is refused with 403.
const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
const server = { role: 'server', name: SERVER_PEER_NAME } as const;

let temp: { path: string; remove(): Promise<void> };
let agent: RunningAgent;
let ca: ClusterCa;

beforeAll(async () => {
  temp = await makeTempDir('nc-mtls-');
  ca = await ClusterCa.create();
  const tls = await ca.issueIdentity({ role: 'agent', name: 'h1' }, { addresses: ['127.0.0.1'] });
  agent = await startAgent({
    config: { agentHost: '127.0.0.1', agentPort: 0, accel: 'tcg', dataDir: temp.path },
    logger: silent,
    identity: { name: 'h1', tls },
  });
});

afterAll(async () => {
  await agent?.close();
  await temp?.remove();
});

/** GET /v1/host presenting `identity` (or no certificate); trusts the cluster CA. */
async function getHost(identity: Partial<TlsIdentity>): Promise<{ status: number; body: unknown }> {
  const tls = clusterAgent({ ...identity, ca: ca.certPem }, { role: 'agent', name: 'h1' });
  try {
    const response = await clusterRequest(new URL('/v1/host', agent.url), {
      agent: tls,
      timeoutMs: 10_000,
    });
    return { status: response.statusCode ?? 0, body: JSON.parse(await readText(response)) };
  } finally {
    tls.destroy();
  }
}

describe('the agent API', () => {
  it('listens on https and answers the server', async () => {
    expect(agent.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { status, body } = await getHost(await ca.issueIdentity(server));
    expect(status).toBe(200);
    expect(body).toMatchObject<Partial<AgentHostInfo>>({ name: 'h1', accelerator: 'tcg' });
  });

  it('cuts off a caller without a client certificate', async () => {
    await expect(getHost({})).rejects.toThrow(/alert certificate required/);
  });

  it('cuts off a certificate from another CA, even one naming the server', async () => {
    const foreign = await ClusterCa.create();
    await expect(getHost(await foreign.issueIdentity(server))).rejects.toThrow(
      // The TLS alert (bad signature) may arrive as a reset before the client reads it.
      /alert (unknown ca|decrypt error|bad certificate)|socket hang up|ECONNRESET/,
    );
  });

  it('cuts off an expired server certificate from the cluster CA', async () => {
    const expired = await ca.issueIdentity(server, {
      now: new Date(Date.now() - 3 * 24 * 3600_000),
      validityDays: 1,
    });
    await expect(getHost(expired)).rejects.toThrow(
      /expired|certificate|socket hang up|ECONNRESET/i,
    );
  });

  it('refuses a valid cluster certificate that is not the server’s, with 403', async () => {
    const other = await ca.issueIdentity({ role: 'agent', name: 'h2' });
    const { status, body } = await getHost(other);
    expect(status).toBe(403);
    expect((body as ErrorBody).error.code).toBe('FORBIDDEN');
  });
});
