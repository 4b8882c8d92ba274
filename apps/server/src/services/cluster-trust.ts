import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import type { ClusterJoinRequest, ClusterJoinResponse, HostJoinToken } from '@novacron/api';
import {
  certificateAddresses,
  JOIN_TOKEN_TTL_SECONDS,
  loadIdentity,
  loadOrCreateCa,
  MAX_CERTIFICATE_ADDRESSES,
  newJoinToken,
  parseJoinToken,
  PkiError,
  saveIdentity,
  SERVER_PEER_NAME,
  subjectAltNames,
  verifyCertificate,
  type ClusterCa,
  type TlsIdentity,
} from '@novacron/auth';
import { assertValidName, DomainError, type Clock } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';

/** The server certificate is made again when it has less than this left. */
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;
const SERVER_IDENTITY = 'server';
/** Used and expired tokens are kept this long for the record, then deleted. */
const TOKEN_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export interface ClusterTrustOptions {
  /** `<dataDir>/pki`: the CA and the server's own certificate. */
  pkiDir: string;
  /** Addresses the server certificate must name (see `serverAddresses`). */
  addresses: readonly string[];
  store: Store;
  clock: Clock;
  logger: Logger;
  tokenTtlSeconds?: number;
}

/**
 * The server's side of cluster trust (docs/adr/0008-cluster-trust.md): the cluster CA, the
 * server's certificate, one-time join tokens, and the join itself.
 */
export class ClusterTrust {
  private advertisedUrl: string | undefined;

  private constructor(
    readonly ca: ClusterCa,
    /** The server's key and certificate: served on the cluster port, presented to agents. */
    readonly identity: TlsIdentity,
    private readonly options: ClusterTrustOptions,
  ) {}

  /** Loads the CA (creating it on first start) and a server certificate for `addresses`. */
  static async open(options: ClusterTrustOptions): Promise<ClusterTrust> {
    const { ca, created } = await loadOrCreateCa(options.pkiDir);
    if (created) {
      options.logger.info({ fingerprint: ca.fingerprint }, 'cluster CA created');
    }
    const identity = await ensureServerIdentity(ca, options);
    return new ClusterTrust(ca, identity, options);
  }

  get fingerprint(): string {
    return this.ca.fingerprint;
  }

  /** The URL agents reach the cluster port at; set once the listener is up. */
  get clusterUrl(): string {
    if (this.advertisedUrl === undefined) throw new Error('the cluster port is not listening yet');
    return this.advertisedUrl;
  }

  advertise(url: string): void {
    this.advertisedUrl = url;
  }

  /** TLS settings of the cluster listener: a client certificate is asked for, checked per route. */
  listenOptions() {
    return {
      key: this.identity.key,
      // The chain: a joining agent finds the CA in it by the fingerprint its token carries.
      cert: this.identity.cert + this.ca.certPem,
      ca: this.ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
    };
  }

  /**
   * A one-time token for the host `name`, valid for an hour. Refused while a host of that name
   * is up: a second machine would fight it for the name. A host that is unreachable or disabled
   * may be joined again (a reinstalled machine).
   */
  async createJoinToken(name: string): Promise<HostJoinToken> {
    assertValidName(name, 'host name');
    const { store, clock } = this.options;
    const existing = await store.hosts.get(name);
    if (existing?.name === name && existing.state === 'ready') {
      throw new DomainError('HOST_NAME_TAKEN', `host '${name}' is already up in this cluster`, {
        host: name,
      });
    }
    const now = clock.now();
    await store.joinTokens.prune(new Date(now.getTime() - TOKEN_RETENTION_MS));
    const { token, secretHash } = newJoinToken(this.ca.fingerprint);
    const ttl = this.options.tokenTtlSeconds ?? JOIN_TOKEN_TTL_SECONDS;
    const stored = await store.joinTokens.create({
      tokenHash: secretHash,
      hostName: name,
      expiresAt: new Date(now.getTime() + ttl * 1000),
    });
    return {
      name,
      token,
      expiresAt: stored.expiresAt,
      joinCommand: `novacron agent --server ${this.clusterUrl} --join ${token} --name ${name}`,
    };
  }

  /**
   * Signs a joining agent's certificate request with the host name its token is bound to, and
   * uses the token up. Checks come first so that a bad request leaves the token usable; the
   * token is then consumed atomically, so of two joins with one token exactly one succeeds.
   */
  async join(request: ClusterJoinRequest): Promise<ClusterJoinResponse> {
    const { store, clock, logger } = this.options;
    const parsed = parseJoinToken(request.token);
    if (parsed === undefined) throw invalidToken('is not a join token');
    if (parsed.caFingerprint !== this.ca.fingerprint) {
      throw invalidToken('was made by another cluster (its CA fingerprint differs)');
    }
    const now = clock.now();
    const record = await store.joinTokens.getByHash(parsed.secretHash);
    if (record === undefined) throw invalidToken('is unknown');
    if (record.usedAt !== null) throw invalidToken('was already used');
    if (Date.parse(record.expiresAt) <= now.getTime()) throw invalidToken('has expired');
    if (request.name !== undefined && request.name !== record.hostName) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `the join token is for host '${record.hostName}', not '${request.name}'`,
        { field: 'name', tokenHost: record.hostName },
      );
    }
    let certificate: string;
    try {
      certificate = await this.ca.signAgentCsr(request.csr, record.hostName, { now });
    } catch (error) {
      if (error instanceof PkiError) {
        throw new DomainError('VALIDATION_FAILED', error.message, { field: 'csr' });
      }
      throw error;
    }
    if ((await store.joinTokens.consume(parsed.secretHash, now)) === undefined) {
      throw invalidToken('was already used');
    }
    logger.info({ host: record.hostName }, 'host joined the cluster');
    return { certificate, ca: this.ca.certPem, hostName: record.hostName };
  }

  /** The certificate of a local agent, made in-process (`novacron up`: no token). */
  issueAgentIdentity(name: string, addresses: readonly string[]): Promise<TlsIdentity> {
    assertValidName(name, 'host name');
    return this.ca.issueIdentity({ role: 'agent', name }, { addresses });
  }
}

function invalidToken(why: string): DomainError {
  return new DomainError('JOIN_TOKEN_INVALID', `the join token ${why}`);
}

/** The server's certificate, kept in the PKI folder and made again when it no longer fits. */
async function ensureServerIdentity(
  ca: ClusterCa,
  options: ClusterTrustOptions,
): Promise<TlsIdentity> {
  const now = options.clock.now();
  const stored = await loadIdentity(options.pkiDir, SERVER_IDENTITY);
  if (stored !== undefined && stored.ca === ca.certPem) {
    const check = await verifyCertificate(stored.cert, ca.certPem, now);
    const names = new Set(certificateAddresses(stored.cert));
    if (
      check.ok &&
      check.identity?.role === 'server' &&
      check.notAfter.getTime() - now.getTime() > RENEW_BEFORE_MS &&
      options.addresses.every((address) => names.has(address))
    ) {
      return stored;
    }
  }
  const identity = await ca.issueIdentity(
    { role: 'server', name: SERVER_PEER_NAME },
    { addresses: options.addresses, now },
  );
  await saveIdentity(options.pkiDir, SERVER_IDENTITY, identity);
  options.logger.info({ addresses: options.addresses }, 'server certificate issued');
  return identity;
}

const WILDCARDS = new Set(['', '0.0.0.0', '::']);

/**
 * The addresses the server answers on, for its certificate: the listen address, or every
 * interface address (and the host name) when it listens on all of them; `localhost` for loopback.
 */
export function serverAddresses(listenHost: string, extra: readonly string[] = []): string[] {
  const found: string[] = [];
  if (WILDCARDS.has(listenHost)) {
    for (const entries of Object.values(networkInterfaces())) {
      for (const entry of entries ?? []) {
        // Link-local addresses carry a zone and are not what a peer dials.
        if (entry.scopeid !== undefined && entry.scopeid !== 0) continue;
        found.push(entry.address);
      }
    }
    found.push('localhost', hostname().toLowerCase());
  } else {
    found.push(listenHost);
    if (listenHost === '127.0.0.1' || listenHost === '::1' || listenHost === 'localhost') {
      found.push('localhost');
    }
  }
  const valid = [...new Set([...extra, ...found])].filter((address) => {
    try {
      subjectAltNames([address]);
      return true;
    } catch {
      return false;
    }
  });
  return valid.slice(0, MAX_CERTIFICATE_ADDRESSES);
}

/** The cluster URL agents are told to use: the listen address, or this machine's first outside one. */
export function advertisedClusterUrl(listenHost: string, port: number): string {
  let host = listenHost;
  if (WILDCARDS.has(listenHost)) {
    const outside = Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .find((entry) => !entry.internal && entry.family === 'IPv4');
    host = outside?.address ?? '127.0.0.1';
  }
  return `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
