// tsyringe, under @peculiar/x509, needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  certificateAddresses,
  ClusterCa,
  createCertificateRequest,
  identityOfCertificate,
  PkiError,
  SERVER_PEER_NAME,
  verifyCertificate,
  type TlsIdentity,
} from './certificates.js';
import { loadIdentity, loadOrCreateCa, saveIdentity } from './files.js';
import { newJoinToken, parseJoinToken } from './join-token.js';
import { clusterAgent, clusterRequest, fetchPinnedCa, peerOfSocket, readText } from './mtls.js';

const server = { role: 'server', name: SERVER_PEER_NAME } as const;

function sans(certPem: string): string[] {
  const cert = new x509.X509Certificate(certPem);
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return ext?.names.items.map((n) => `${n.type}:${n.value}`) ?? [];
}

describe('cluster CA', () => {
  it('is a P-256 CA whose fingerprint is the SHA-256 of its certificate', async () => {
    const ca = await ClusterCa.create();
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(ca.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(ca.fingerprint).toBe(cert.fingerprint256.replaceAll(':', '').toLowerCase());

    const reloaded = await ClusterCa.fromPem(ca.certPem, await ca.exportKeyPem());
    expect(reloaded.fingerprint).toBe(ca.fingerprint);
    const other = await ClusterCa.create();
    await expect(ClusterCa.fromPem(ca.certPem, await other.exportKeyPem())).rejects.toThrow(
      PkiError,
    );
  });

  it('issues a server certificate naming its addresses, which verifies against the CA only', async () => {
    const ca = await ClusterCa.create();
    const identity = await ca.issueIdentity(server, {
      addresses: ['127.0.0.1', '::1', 'localhost', '10.0.0.1'],
    });
    expect(identity.ca).toBe(ca.certPem);
    expect(sans(identity.cert)).toEqual(['ip:127.0.0.1', 'ip:::1', 'dns:localhost', 'ip:10.0.0.1']);
    expect(certificateAddresses(identity.cert)).toEqual([
      '127.0.0.1',
      '::1',
      'localhost',
      '10.0.0.1',
    ]);
    expect(identityOfCertificate(identity.cert)).toEqual(server);
    const node = new X509Certificate(identity.cert);
    expect(node.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(node.ca).toBe(false);

    await expect(verifyCertificate(identity.cert, ca.certPem)).resolves.toMatchObject({
      ok: true,
      identity: server,
    });
    const foreign = await ClusterCa.create();
    await expect(verifyCertificate(identity.cert, foreign.certPem)).resolves.toMatchObject({
      ok: false,
    });
  });

  it('refuses a certificate from another CA even when it copies the issuer name', async () => {
    const ca = await ClusterCa.create();
    const forger = await ClusterCa.create();
    const forged = await forger.issueIdentity({ role: 'server', name: SERVER_PEER_NAME });
    // Both CAs share a subject name: only the signature tells them apart.
    expect(new X509Certificate(forged.cert).issuer).toBe(new X509Certificate(ca.certPem).subject);
    await expect(verifyCertificate(forged.cert, ca.certPem)).resolves.toMatchObject({
      ok: false,
      reason: 'signature does not match the CA key',
    });
  });

  it('refuses an expired certificate and one not valid yet', async () => {
    const ca = await ClusterCa.create({ now: new Date('2020-01-01T00:00:00Z') });
    const old = await ca.issueIdentity(
      { role: 'agent', name: 'h1' },
      { now: new Date('2020-01-01T00:00:00Z'), validityDays: 1 },
    );
    await expect(verifyCertificate(old.cert, ca.certPem)).resolves.toMatchObject({
      ok: false,
      reason: 'expired',
    });
    await expect(
      verifyCertificate(old.cert, ca.certPem, new Date('2019-12-01T00:00:00Z')),
    ).resolves.toMatchObject({ ok: false, reason: 'not valid yet' });
    await expect(
      verifyCertificate(old.cert, ca.certPem, new Date('2020-01-01T12:00:00Z')),
    ).resolves.toMatchObject({ ok: true });
  });
});

describe('certificate requests', () => {
  it('signs an agent CSR: the public key and addresses come from it, the subject from the CA', async () => {
    const ca = await ClusterCa.create();
    const { keyPem, csrPem } = await createCertificateRequest('node1', ['10.0.0.2', 'node1.lan']);
    expect(csrPem).toContain('BEGIN CERTIFICATE REQUEST');
    const certPem = await ca.signAgentCsr(csrPem, 'node1');
    expect(identityOfCertificate(certPem)).toEqual({ role: 'agent', name: 'node1' });
    expect(sans(certPem)).toEqual(['ip:10.0.0.2', 'dns:node1.lan']);
    await expect(verifyCertificate(certPem, ca.certPem)).resolves.toMatchObject({ ok: true });

    // The certificate certifies the agent's own key: the key never left the agent.
    const cert = new X509Certificate(certPem);
    const { createPrivateKey, createPublicKey } = await import('node:crypto');
    expect(
      createPublicKey(createPrivateKey(keyPem))
        .export({ format: 'der', type: 'spki' })
        .equals(cert.publicKey.export({ format: 'der', type: 'spki' })),
    ).toBe(true);
  });

  it('ignores a subject that claims to be the server', async () => {
    const ca = await ClusterCa.create();
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create(
      {
        name: `CN=${SERVER_PEER_NAME}, O=NovaCron, OU=server`,
        keys,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      },
      webcrypto,
    );
    const certPem = await ca.signAgentCsr(csr.toString('pem'), 'sneaky');
    expect(identityOfCertificate(certPem)).toEqual({ role: 'agent', name: 'sneaky' });
  });

  it('refuses garbage, a tampered request and a key that is not P-256', async () => {
    const ca = await ClusterCa.create();
    await expect(ca.signAgentCsr('not a csr', 'h')).rejects.toThrow(PkiError);

    const { csrPem } = await createCertificateRequest('h', []);
    const der = Buffer.from(x509.PemConverter.decodeFirst(csrPem));
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff; // inside the signature
    const tampered = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
    await expect(ca.signAgentCsr(tampered, 'h')).rejects.toThrow(PkiError);

    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, [
      'sign',
      'verify',
    ]);
    const p384 = await x509.Pkcs10CertificateRequestGenerator.create(
      { name: 'CN=h', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' } },
      webcrypto,
    );
    await expect(ca.signAgentCsr(p384.toString('pem'), 'h')).rejects.toThrow(/P-256/);
  });

  it('refuses addresses that are neither IPs nor DNS names', async () => {
    await expect(createCertificateRequest('h', ['not an address!'])).rejects.toThrow(PkiError);
    const ca = await ClusterCa.create();
    await expect(
      ca.issueIdentity(server, { addresses: Array.from({ length: 40 }, (_, i) => `10.0.0.${i}`) }),
    ).rejects.toThrow(/at most/);
  });
});

describe('join tokens', () => {
  it('carry the CA fingerprint and a secret stored only as a hash', async () => {
    const ca = await ClusterCa.create();
    const a = newJoinToken(ca.fingerprint);
    const b = newJoinToken(ca.fingerprint);
    expect(a.token).not.toBe(b.token);
    expect(a.token).toMatch(/^ncj1\./);
    expect(a.token).not.toContain(a.secretHash);
    expect(parseJoinToken(a.token)).toEqual({
      secretHash: a.secretHash,
      caFingerprint: ca.fingerprint,
    });
    expect(parseJoinToken(` ${a.token}\n`)?.secretHash).toBe(a.secretHash);
    expect(parseJoinToken('ncj1.short.abc')).toBeUndefined();
    expect(parseJoinToken(a.token.replace('ncj1', 'ncj2'))).toBeUndefined();
  });
});

describe('PKI files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nc-pki-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the CA once, with its key readable by the owner only', async () => {
    const first = await loadOrCreateCa(join(dir, 'pki'));
    expect(first.created).toBe(true);
    expect((await stat(join(dir, 'pki', 'ca.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'pki'))).mode & 0o777).toBe(0o700);
    const second = await loadOrCreateCa(join(dir, 'pki'));
    expect(second.created).toBe(false);
    expect(second.ca.fingerprint).toBe(first.ca.fingerprint);
  });

  it('refuses a folder that holds a CA certificate without its key', async () => {
    await loadOrCreateCa(join(dir, 'pki'));
    await rm(join(dir, 'pki', 'ca.key'));
    await expect(loadOrCreateCa(join(dir, 'pki'))).rejects.toThrow(/ca.key is missing/);
  });

  it('saves and loads an identity', async () => {
    const ca = await ClusterCa.create();
    const identity = await ca.issueIdentity({ role: 'agent', name: 'h1' });
    expect(await loadIdentity(dir, 'agent')).toBeUndefined();
    await saveIdentity(dir, 'agent', identity);
    expect(await loadIdentity(dir, 'agent')).toEqual(identity);
    expect((await stat(join(dir, 'agent.key'))).mode & 0o777).toBe(0o600);
    await writeFile(join(dir, 'agent.key'), '');
    expect((await loadIdentity(dir, 'agent'))?.key).toBe('');
  });
});

describe('mutual TLS with cluster certificates', () => {
  let ca: ClusterCa;
  let serverIdentity: TlsIdentity;
  let agentIdentity: TlsIdentity;
  let close: () => Promise<void>;
  let url: string;
  const seen: (string | undefined)[] = [];

  beforeEach(async () => {
    ca = await ClusterCa.create();
    serverIdentity = await ca.issueIdentity(server, { addresses: ['127.0.0.1'] });
    agentIdentity = await ca.issueIdentity({ role: 'agent', name: 'h1' });
    // The server presents its chain: that is what lets a joining agent find the CA.
    const tls = createServer(
      {
        key: serverIdentity.key,
        cert: serverIdentity.cert + ca.certPem,
        ca: ca.certPem,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (socket: TLSSocket) => {
        const peer = peerOfSocket(socket);
        seen.push(peer && `${peer.role}:${peer.name}`);
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
      },
    );
    const sockets = new Set<TLSSocket>();
    tls.on('secureConnection', (socket: TLSSocket) => sockets.add(socket));
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    const address = tls.address();
    url = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
    close = () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        tls.close(() => resolve());
      });
    seen.length = 0;
  });

  afterEach(async () => {
    await close();
  });

  it('connects with a client certificate the server sees as the agent', async () => {
    const agent = clusterAgent(agentIdentity, { role: 'server' });
    const response = await clusterRequest(url, { agent, timeoutMs: 5000 });
    expect(await readText(response)).toBe('ok');
    agent.destroy();
    expect(seen).toEqual(['agent:h1']);
  });

  it('refuses a server whose certificate names another peer', async () => {
    const agent = clusterAgent(agentIdentity, { role: 'agent', name: 'h2' });
    await expect(clusterRequest(url, { agent, timeoutMs: 5000 })).rejects.toThrow(
      /not that of the agent of host h2/,
    );
    agent.destroy();
  });

  it('refuses a server signed by a CA it does not trust', async () => {
    const foreign = await ClusterCa.create();
    const agent = clusterAgent({ ...agentIdentity, ca: foreign.certPem }, { role: 'server' });
    await expect(clusterRequest(url, { agent, timeoutMs: 5000 })).rejects.toThrow();
    agent.destroy();
  });

  it('finds the CA by its fingerprint before trusting anything, and only that CA', async () => {
    await expect(fetchPinnedCa(url, ca.fingerprint)).resolves.toBe(ca.certPem);
    const foreign = await ClusterCa.create();
    await expect(fetchPinnedCa(url, foreign.fingerprint)).rejects.toThrow(/does not present/);
  });
});
