import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ClusterHeartbeat, ErrorBody, Host, HostJoinToken, Vm } from '@novacron/api';
import {
  ClusterCa,
  clusterAgent,
  clusterRequest,
  createCertificateRequest,
  fetchPinnedCa,
  hashPassword,
  loadOrCreateCa,
  parseJoinToken,
  type TlsIdentity,
} from '@novacron/auth';
import { loadConfig } from '@novacron/config';
import { DEFAULT_PROJECT } from '@novacron/store';
import { createLogger } from '@novacron/telemetry';
import { makeTempDir, testCacheDir, waitFor } from '@novacron/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './server.js';

// The cluster port over real TLS sockets (docs/adr/0008-cluster-trust.md): joining with a
// one-time token, heartbeats identified by the client certificate, image files, and the
// heartbeat timeout (2 s here) that marks a host unreachable and its VMs unknown.
let server: RunningServer;
let dataDir: Awaited<ReturnType<typeof makeTempDir>>;
let admin: { authorization: string };
let ca: string;

beforeAll(async () => {
  dataDir = await makeTempDir('nc-cluster-');
  const config = loadConfig(
    {
      NOVACRON_DATA_DIR: dataDir.path,
      NOVACRON_API_PORT: '0',
      NOVACRON_WS_PORT: '0',
      NOVACRON_CLUSTER_PORT: '0',
      NOVACRON_HOST_TIMEOUT: '2',
      NOVACRON_ADMIN_PASSWORD: 'integration-test',
    },
    {},
  );
  server = await startServer({
    config,
    logger: createLogger({ level: 'silent' }),
    imageCacheDir: join(testCacheDir, 'tiny-image'),
  });
  admin = { authorization: `Bearer ${await login('admin', 'integration-test')}` };
  ca = server.trust.ca.certPem;
});

afterAll(async () => {
  await server?.close();
  await dataDir?.remove();
});

async function login(username: string, password: string): Promise<string> {
  const response = await server.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username, password },
  });
  return response.json<{ accessToken: string }>().accessToken;
}

async function addHost(name: string): Promise<HostJoinToken> {
  const response = await server.app.inject({
    method: 'POST',
    url: '/api/v1/hosts',
    headers: admin,
    payload: { name },
  });
  expect(response.statusCode).toBe(201);
  return response.json<HostJoinToken>();
}

/** One call to the cluster port presenting `identity` (none: no client certificate). */
async function cluster<T>(
  method: string,
  path: string,
  identity: Partial<TlsIdentity> | undefined,
  body?: unknown,
): Promise<{ status: number; body: T; raw: Buffer }> {
  const agent = clusterAgent({ ...identity, ca }, { role: 'server' });
  try {
    const response = await clusterRequest(new URL(path, server.clusterUrl), {
      method,
      agent,
      body,
      timeoutMs: 10_000,
    });
    const chunks: Buffer[] = [];
    for await (const chunk of response as AsyncIterable<Buffer>) chunks.push(chunk);
    const raw = Buffer.concat(chunks);
    const json = (response.headers['content-type'] ?? '').includes('json');
    return {
      status: response.statusCode ?? 0,
      body: (json ? JSON.parse(raw.toString()) : undefined) as T,
      raw,
    };
  } finally {
    agent.destroy();
  }
}

/** Joins as an agent would: a key of its own, a CSR, the token. */
async function joinWith(token: string, name?: string) {
  const { keyPem, csrPem } = await createCertificateRequest(name ?? 'x', ['127.0.0.1']);
  const response = await cluster<{ certificate: string; hostName: string } & ErrorBody>(
    'POST',
    '/cluster/v1/join',
    undefined,
    { token, csr: csrPem, ...(name === undefined ? {} : { name }) },
  );
  const tls: TlsIdentity = { key: keyPem, cert: response.body.certificate, ca };
  return { ...response, tls };
}

function beat(vms: ClusterHeartbeat['vms'] = []): ClusterHeartbeat {
  return {
    agentUrl: 'https://127.0.0.1:1',
    host: {
      cpus: 1,
      memoryMiB: 512,
      accelerator: 'tcg',
      acceleratorReason: 'test',
      qemuVersion: '7.2.0',
    },
    vms,
  };
}

describe('joining', () => {
  it('gives an admin a one-time token carrying the CA fingerprint, and the command that uses it', async () => {
    const added = await addHost('node1');
    expect(parseJoinToken(added.token)?.caFingerprint).toBe(server.trust.fingerprint);
    expect(added.joinCommand).toBe(
      `novacron agent --server ${server.clusterUrl} --join ${added.token} --name node1`,
    );
    expect(Date.parse(added.expiresAt) - Date.now()).toBeGreaterThan(59 * 60_000);
    // Only the hash is kept.
    const stored = JSON.stringify(await server.store.joinTokens.listPending(new Date()));
    expect(stored).not.toContain(added.token.split('.')[1]);
  });

  it('refuses a token to a non-admin and a bad host name', async () => {
    await server.store.users.create({
      username: 'viewer',
      passwordHash: await hashPassword('viewer-pass'),
      role: 'viewer',
    });
    const viewer = { authorization: `Bearer ${await login('viewer', 'viewer-pass')}` };
    const refused = await server.app.inject({
      method: 'POST',
      url: '/api/v1/hosts',
      headers: viewer,
      payload: { name: 'node9' },
    });
    expect(refused.statusCode).toBe(403);
    const bad = await server.app.inject({
      method: 'POST',
      url: '/api/v1/hosts',
      headers: admin,
      payload: { name: 'Not A Name' },
    });
    expect(bad.statusCode).toBe(400);
  });

  it('finds the CA by the token fingerprint before sending anything', async () => {
    const added = await addHost('node2');
    const pinned = await fetchPinnedCa(
      server.clusterUrl,
      parseJoinToken(added.token)?.caFingerprint ?? '',
    );
    expect(pinned).toBe(ca);
  });

  it('signs the CSR once: a second join with the same token is refused', async () => {
    const added = await addHost('node3');
    const first = await joinWith(added.token);
    expect(first.status).toBe(200);
    expect(first.body.hostName).toBe('node3');
    const second = await joinWith(added.token);
    expect(second.status).toBe(401);
    expect(second.body.error.code).toBe('JOIN_TOKEN_INVALID');
    expect(second.body.error.message).toMatch(/already used/);
  });

  it('lets exactly one of two concurrent joins with one token win', async () => {
    const added = await addHost('node4');
    const results = await Promise.all([joinWith(added.token), joinWith(added.token)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it('keeps the token when the request is bad, the name wrong, or the token from elsewhere', async () => {
    const added = await addHost('node5');
    const garbage = await cluster<ErrorBody>('POST', '/cluster/v1/join', undefined, {
      token: added.token,
      csr: 'not a csr',
    });
    expect(garbage.status).toBe(400);
    expect((await joinWith(added.token, 'other')).status).toBe(400);
    const foreign = await ClusterCa.create();
    const alien = added.token.replace(/[0-9a-f]{64}$/, foreign.fingerprint);
    expect((await joinWith(alien)).body.error.code).toBe('JOIN_TOKEN_INVALID');
    expect((await joinWith('ncj1.' + 'A'.repeat(43) + '.' + server.trust.fingerprint)).status).toBe(
      401,
    );
    expect((await joinWith(added.token, 'node5')).status).toBe(200);
  });
});

describe('heartbeats', () => {
  let node: TlsIdentity;

  beforeAll(async () => {
    node = (await joinWith((await addHost('hb1')).token)).tls;
  });

  it('take a few milliseconds each over a kept-alive connection', async () => {
    const agent = clusterAgent(node, { role: 'server' });
    try {
      const times: number[] = [];
      for (let i = 0; i < 21; i++) {
        const started = performance.now();
        const response = await clusterRequest(new URL('/cluster/v1/heartbeat', server.clusterUrl), {
          method: 'POST',
          agent,
          body: beat(),
        });
        response.resume();
        await new Promise((resolve) => response.on('end', resolve));
        expect(response.statusCode).toBe(200);
        times.push(performance.now() - started);
      }
      const [first, ...rest] = times;
      rest.sort((a, b) => a - b);
      console.info(
        `cluster: heartbeat round trip ${first?.toFixed(1)} ms with the TLS handshake, median ${rest[10]?.toFixed(1)} ms after`,
      );
    } finally {
      agent.destroy();
    }
  });

  it('register the host named by the client certificate', async () => {
    const reply = await cluster<{ hostName: string; state: string }>(
      'POST',
      '/cluster/v1/heartbeat',
      node,
      beat(),
    );
    expect(reply).toMatchObject({ status: 200, body: { hostName: 'hb1', state: 'ready' } });
    expect(await server.store.hosts.get('hb1')).toMatchObject<Partial<Host>>({
      state: 'ready',
      agentUrl: 'https://127.0.0.1:1',
    });
  });

  it('are refused without a certificate, with a foreign or expired one, or the server’s', async () => {
    expect((await cluster('POST', '/cluster/v1/heartbeat', undefined, beat())).status).toBe(401);
    const foreign = await (await ClusterCa.create()).issueIdentity({ role: 'agent', name: 'hb1' });
    expect((await cluster('POST', '/cluster/v1/heartbeat', foreign, beat())).status).toBe(401);
    // The real CA, read from the data directory, with a certificate that has run out.
    const { ca: realCa } = await loadOrCreateCa(join(dataDir.path, 'pki'));
    const expired = await realCa.issueIdentity(
      { role: 'agent', name: 'hb1' },
      { now: new Date(Date.now() - 3 * 86_400_000), validityDays: 1 },
    );
    expect((await cluster('POST', '/cluster/v1/heartbeat', expired, beat())).status).toBe(401);
    const serverCert = await cluster<ErrorBody>(
      'POST',
      '/cluster/v1/heartbeat',
      server.trust.identity,
      beat(),
    );
    expect(serverCert.status).toBe(403);
  });

  it('mark a silent host unreachable and its VMs unknown; the next one restores them', async () => {
    const image = await server.store.images.get(DEFAULT_PROJECT, 'tiny');
    const host = await server.store.hosts.get('hb1');
    const vm = await server.store.vms.create({
      project: DEFAULT_PROJECT,
      name: 'hb-vm',
      imageId: image?.id ?? '',
      hostId: host?.id ?? null,
      cpus: 1,
      memoryMiB: 128,
      diskGiB: 1,
      state: 'running',
      desiredState: 'running',
    });
    const running = [{ id: vm.id, state: 'running' as const, pid: 1, reason: null }];
    await cluster('POST', '/cluster/v1/heartbeat', node, beat(running));

    const started = Date.now();
    const lost = await waitFor(
      'the host to be marked unreachable',
      async () => {
        const h = await server.store.hosts.get('hb1');
        return h?.state === 'unreachable' ? h : undefined;
      },
      10_000,
      100,
    );
    const ms = Date.now() - started;
    expect(ms).toBeGreaterThanOrEqual(1900);
    expect(lost.state).toBe('unreachable');
    expect(await server.store.vms.get(undefined, vm.id)).toMatchObject<Partial<Vm>>({
      state: 'unknown',
    });
    console.info(
      `cluster: host marked unreachable ${ms} ms after its last heartbeat (timeout 2 s)`,
    );

    await cluster('POST', '/cluster/v1/heartbeat', node, beat(running));
    expect((await server.store.hosts.get('hb1'))?.state).toBe('ready');
    expect((await server.store.vms.get(undefined, vm.id))?.state).toBe('running');
  });
});

describe('image files', () => {
  let node: TlsIdentity;
  beforeAll(async () => {
    node = (await joinWith((await addHost('img1')).token)).tls;
  });

  it('serve an image to an agent, files whose SHA-256 is the image’s', async () => {
    const image = await server.store.images.get(DEFAULT_PROJECT, 'tiny');
    const hash = createHash('sha256');
    const started = performance.now();
    let bytes = 0;
    for (const file of ['vmlinuz', 'initrd.img']) {
      const response = await cluster('GET', `/cluster/v1/images/${image?.id}/${file}`, node);
      expect(response.status).toBe(200);
      hash.update(response.raw);
      bytes += response.raw.length;
    }
    const ms = performance.now() - started;
    expect(hash.digest('hex')).toBe(image?.sha256);
    console.info(
      `cluster: tiny image (${(bytes / 2 ** 20).toFixed(1)} MiB) over mutual TLS in ${ms.toFixed(0)} ms, new connection per file`,
    );
  });

  it('refuse files off the list, unknown images and callers without a certificate', async () => {
    const image = await server.store.images.get(DEFAULT_PROJECT, 'tiny');
    const id = image?.id ?? '';
    expect((await cluster('GET', `/cluster/v1/images/${id}/vmlinuz`, undefined)).status).toBe(401);
    expect((await cluster('GET', `/cluster/v1/images/${id}/passwd`, node)).status).toBe(400);
    expect((await cluster('GET', `/cluster/v1/images/${id}/..%2f..%2fpki`, node)).status).toBe(400);
    expect((await cluster('GET', `/cluster/v1/images/${id}/disk.qcow2`, node)).status).toBe(404);
    expect((await cluster('GET', `/cluster/v1/images/tiny/vmlinuz`, node)).status).toBe(404);
    expect((await cluster('GET', `/cluster/v1/images/nope/vmlinuz`, node)).status).toBe(404);
  });
});
