import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Agent, request } from 'node:https';
import {
  connect,
  type DetailedPeerCertificate,
  type PeerCertificate,
  type TLSSocket,
} from 'node:tls';
import * as x509 from '@peculiar/x509';
// certificates.js loads the metadata shim @peculiar/x509 needs before it.
import { peerIdentityOf, type PeerIdentity, type TlsIdentity } from './certificates.js';

/** Who must be at the other end of a cluster connection. */
export type ExpectedPeer = { role: 'server' } | { role: 'agent'; name: string };

function describePeer(peer: ExpectedPeer): string {
  return peer.role === 'server' ? 'the NovaCron server' : `the agent of host ${peer.name}`;
}

/**
 * A `checkServerIdentity` for Node's TLS: the CA has already vouched for the certificate; this
 * checks that it names the expected peer. The address dialled is not what identifies a peer (an
 * agent's address can change; its certificate names its host).
 */
export function expectPeer(
  expected: ExpectedPeer,
): (hostname: string, cert: PeerCertificate) => Error | undefined {
  return (_hostname, cert) => {
    const peer = peerIdentityOf(cert.subject ?? {});
    const ok =
      peer !== undefined &&
      peer.role === expected.role &&
      (expected.role === 'server' || peer.name === expected.name);
    return ok
      ? undefined
      : new Error(
          `the peer's certificate (${formatSubject(cert)}) is not that of ${describePeer(expected)}`,
        );
  };
}

function formatSubject(cert: PeerCertificate): string {
  const subject = cert.subject ?? {};
  return Object.entries(subject)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(', ');
}

/** The cluster identity of the peer on an inbound TLS socket, when the CA vouched for it. */
export function peerOfSocket(socket: unknown): PeerIdentity | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (tls.authorized !== true || typeof tls.getPeerCertificate !== 'function') return undefined;
  return peerIdentityOf(tls.getPeerCertificate().subject ?? {});
}

/**
 * A keep-alive HTTPS agent for calls to one cluster peer: presents `identity` as the client
 * certificate (when given), trusts only the cluster CA, and checks the peer is `expected`.
 */
export function clusterAgent(
  identity: Pick<TlsIdentity, 'ca'> & Partial<TlsIdentity>,
  expected: ExpectedPeer,
): Agent {
  return new Agent({
    keepAlive: true,
    maxSockets: 16,
    ca: identity.ca,
    ...(identity.key !== undefined && identity.cert !== undefined
      ? { key: identity.key, cert: identity.cert }
      : {}),
    rejectUnauthorized: true,
    checkServerIdentity: expectPeer(expected),
  });
}

export interface ClusterRequestOptions {
  method?: string;
  agent: Agent;
  /** Sent as JSON. */
  body?: unknown;
  headers?: OutgoingHttpHeaders;
  /** The whole exchange up to the response headers; default 15 s. */
  timeoutMs?: number;
}

/** One HTTPS request to a cluster peer; resolves with the response as soon as its head arrives. */
export function clusterRequest(
  url: string | URL,
  options: ClusterRequestOptions,
): Promise<IncomingMessage> {
  const target = new URL(url);
  if (target.protocol !== 'https:') {
    return Promise.reject(new Error(`cluster calls use https, not ${target.protocol}`));
  }
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: options.method ?? 'GET',
        agent: options.agent,
        headers: {
          accept: 'application/json',
          ...(payload === undefined
            ? {}
            : {
                'content-type': 'application/json',
                'content-length': Buffer.byteLength(payload),
              }),
          ...options.headers,
        },
      },
      (response) => {
        clearTimeout(timer);
        resolve(response);
      },
    );
    const timeoutMs = options.timeoutMs ?? 15_000;
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(payload);
  });
}

/** Reads a response body as text, refusing more than `limit` bytes. */
export async function readText(
  response: IncomingMessage,
  limit = 16 * 1024 * 1024,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      response.destroy();
      throw new Error(`the answer is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Trust on join: connects to the server at `url` without trusting anything yet, and returns the
 * CA certificate (PEM) from the chain it presents if, and only if, its SHA-256 fingerprint is
 * `fingerprint` (from the join token). Nothing secret is sent on this connection.
 */
export function fetchPinnedCa(
  url: string,
  fingerprint: string,
  timeoutMs = 10_000,
): Promise<string> {
  const target = new URL(url);
  const port = Number(target.port || 443);
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false, timeout: timeoutMs }, () => {
      const chain: DetailedPeerCertificate[] = [];
      let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      while (cert !== undefined && cert.raw !== undefined && !chain.includes(cert)) {
        chain.push(cert);
        cert = cert.issuerCertificate === cert ? undefined : cert.issuerCertificate;
      }
      socket.destroy();
      const wanted = fingerprint.toLowerCase();
      const ca = chain.find((c) => c.fingerprint256.replaceAll(':', '').toLowerCase() === wanted);
      if (ca === undefined) {
        reject(
          new Error(
            `the server at ${target.host} does not present the cluster CA named by the join token (fingerprint ${wanted.slice(0, 16)}…)`,
          ),
        );
        return;
      }
      resolve(`${x509.PemConverter.encode(new Uint8Array(ca.raw), 'CERTIFICATE')}\n`);
    });
    socket.on('timeout', () => socket.destroy(new Error(`no TLS answer within ${timeoutMs} ms`)));
    socket.on('error', reject);
  });
}
