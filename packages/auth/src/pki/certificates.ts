import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  webcrypto,
  X509Certificate,
} from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import { isIP } from 'node:net';
// tsyringe, under @peculiar/x509, needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

// Certificates are made by @peculiar/x509 on Node's WebCrypto, never by hand (ARCHITECTURE.md §4).
const crypto = webcrypto;
// Some helpers of the library look the provider up instead of taking it as a parameter.
x509.cryptoProvider.set(crypto);

const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;
// Certificates start a little in the past so that a peer whose clock lags still accepts them.
const BACKDATE_MS = 5 * 60 * 1000;

export const CA_VALIDITY_DAYS = 3650;
/** Agent and server certificates; renewing them is future work (docs/adr/0008-cluster-trust.md). */
export const LEAF_VALIDITY_DAYS = 1825;
/** Most addresses a certificate names: a CSR asking for more is refused. */
export const MAX_CERTIFICATE_ADDRESSES = 32;

/** What a cluster certificate says its holder is: the server, or the agent of one host. */
export type PeerRole = 'server' | 'agent';
export interface PeerIdentity {
  role: PeerRole;
  /** `novacron-server` for the server; the host name for an agent. */
  name: string;
}

/** The common name every server certificate carries; agents accept only this peer. */
export const SERVER_PEER_NAME = 'novacron-server';
const ORGANIZATION = 'NovaCron';

/** A private key, its certificate and the cluster CA that signed it, all PEM. */
export interface TlsIdentity {
  key: string;
  cert: string;
  ca: string;
}

export interface ValidityOptions {
  /** The time the certificate is issued at; default now. */
  now?: Date;
  validityDays?: number;
}

export class PkiError extends Error {
  override readonly name = 'PkiError';
}

/** SHA-256 of a certificate's DER, lower-case hex: how a join token names the cluster CA. */
export function certificateFingerprint(certPem: string): string {
  const der = Buffer.from(x509.PemConverter.decodeFirst(certPem));
  return createHash('sha256').update(der).digest('hex');
}

/** Splits addresses into SAN entries; refuses anything that is neither an IP nor a DNS name. */
export function subjectAltNames(addresses: readonly string[]): x509.JsonGeneralNames {
  const unique = [...new Set(addresses.map((a) => a.trim().toLowerCase()))];
  if (unique.length > MAX_CERTIFICATE_ADDRESSES) {
    throw new PkiError(`a certificate names at most ${MAX_CERTIFICATE_ADDRESSES} addresses`);
  }
  return unique.map((address) => {
    const bare = address.replace(/^\[(.*)\]$/, '$1');
    if (isIP(bare) !== 0) return { type: 'ip', value: bare };
    if (DNS_NAME.test(address) && address.length <= 253) return { type: 'dns', value: address };
    throw new PkiError(`'${address.slice(0, 80)}' is neither an IP address nor a DNS name`);
  });
}

const DNS_LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const DNS_NAME = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`);

function serialNumber(): string {
  const bytes = randomBytes(16);
  // A positive integer with no leading zero byte, as RFC 5280 asks.
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function subjectOf(identity: PeerIdentity): string {
  return `CN=${identity.name}, O=${ORGANIZATION}, OU=${identity.role}`;
}

function validity(
  options: ValidityOptions,
  defaultDays: number,
): { notBefore: Date; notAfter: Date } {
  const now = options.now ?? new Date();
  return {
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + (options.validityDays ?? defaultDays) * DAY_MS),
  };
}

async function newKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

/** PEM ending with a newline, so that PEMs can be concatenated into a chain. */
function pem(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return pem(x509.PemConverter.encode(der, 'PRIVATE KEY'));
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey(
      'pkcs8',
      x509.PemConverter.decodeFirst(pem),
      KEY_ALGORITHM,
      true,
      ['sign'],
    );
  } catch (error) {
    throw new PkiError('the private key is not an ECDSA P-256 key in PKCS#8 PEM', {
      cause: error,
    });
  }
}

/** Reads the role and name a cluster certificate's subject carries; undefined for any other. */
export function peerIdentityOf(subject: {
  CN?: string | string[];
  OU?: string | string[];
}): PeerIdentity | undefined {
  const { CN: name, OU: role } = subject;
  if (typeof name !== 'string' || typeof role !== 'string') return undefined;
  if (role === 'server' && name === SERVER_PEER_NAME) return { role, name };
  if (role === 'agent' && name !== '') return { role, name };
  return undefined;
}

/**
 * The cluster's certificate authority (ECDSA P-256): signs the server's certificate and every
 * agent's. Its fingerprint travels in join tokens so that an agent can trust it on first contact.
 */
export class ClusterCa {
  private constructor(
    /** The CA certificate, PEM. Public: every peer holds it. */
    readonly certPem: string,
    private readonly cert: x509.X509Certificate,
    private readonly key: CryptoKey,
    /** SHA-256 of the CA certificate, hex. */
    readonly fingerprint: string,
  ) {}

  static async create(options: ValidityOptions = {}): Promise<ClusterCa> {
    const keys = await newKeyPair();
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: serialNumber(),
        name: `CN=NovaCron cluster CA, O=${ORGANIZATION}`,
        ...validity(options, CA_VALIDITY_DAYS),
        signingAlgorithm: SIGNING_ALGORITHM,
        keys,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
            true,
          ),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        ],
      },
      crypto,
    );
    const certPem = pem(cert.toString('pem'));
    return new ClusterCa(certPem, cert, keys.privateKey, certificateFingerprint(certPem));
  }

  /** Loads a CA; refuses a key that does not belong to the certificate. */
  static async fromPem(certPem: string, keyPem: string): Promise<ClusterCa> {
    const cert = new x509.X509Certificate(certPem);
    const key = await importPrivateKey(keyPem);
    const spki = { format: 'der', type: 'spki' } as const;
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export(spki);
    if (!fromKey.equals(new X509Certificate(certPem).publicKey.export(spki))) {
      throw new PkiError('the CA private key does not match the CA certificate');
    }
    return new ClusterCa(pem(cert.toString('pem')), cert, key, certificateFingerprint(certPem));
  }

  /** The private key as PKCS#8 PEM, to be written to a 0600 file and nowhere else. */
  exportKeyPem(): Promise<string> {
    return privateKeyPem(this.key);
  }

  get notAfter(): Date {
    return this.cert.notAfter;
  }

  /** A new key and its certificate, made here: the server's own, or the local agent of `up`. */
  async issueIdentity(
    identity: PeerIdentity,
    options: ValidityOptions & { addresses?: readonly string[] } = {},
  ): Promise<TlsIdentity> {
    const keys = await newKeyPair();
    const cert = await this.sign(identity, keys.publicKey, options);
    return { key: await privateKeyPem(keys.privateKey), cert, ca: this.certPem };
  }

  /**
   * Signs an agent's certificate request for `hostName`. Only the request's public key and its
   * IP/DNS subject alternative names are taken; the subject is the CA's to decide, so a request
   * can never make itself the server.
   */
  async signAgentCsr(
    csrPem: string,
    hostName: string,
    options: ValidityOptions = {},
  ): Promise<string> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (error) {
      throw new PkiError('the certificate request is not a PKCS#10 request in PEM', {
        cause: error,
      });
    }
    if (!(await csr.verify(crypto))) {
      throw new PkiError('the certificate request is not signed by its own key');
    }
    const algorithm = csr.publicKey.algorithm as webcrypto.EcKeyAlgorithm;
    if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
      throw new PkiError('the certificate request must carry an ECDSA P-256 key');
    }
    return this.sign({ role: 'agent', name: hostName }, csr.publicKey, {
      ...options,
      addresses: csrAddresses(csr),
    });
  }

  private async sign(
    identity: PeerIdentity,
    publicKey: CryptoKey | x509.PublicKey,
    options: ValidityOptions & { addresses?: readonly string[] },
  ): Promise<string> {
    const names = subjectAltNames(options.addresses ?? []);
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serialNumber(),
        subject: subjectOf(identity),
        issuer: this.cert.subject,
        ...validity(options, LEAF_VALIDITY_DAYS),
        signingAlgorithm: SIGNING_ALGORITHM,
        publicKey,
        signingKey: this.key,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          // Both: every peer serves an API and calls another one.
          new x509.ExtendedKeyUsageExtension(
            [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
            false,
          ),
          await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
          await x509.AuthorityKeyIdentifierExtension.create(this.cert, false, crypto),
          ...(names.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(names, false)]),
        ],
      },
      crypto,
    );
    return pem(cert.toString('pem'));
  }
}

const SUBJECT_ALT_NAME_OID = '2.5.29.17';

function csrAddresses(csr: x509.Pkcs10CertificateRequest): string[] {
  const extension = csr.getExtension(SUBJECT_ALT_NAME_OID);
  if (extension === null) return [];
  const san = new x509.SubjectAlternativeNameExtension(extension.rawData);
  return san.names.items.map((name) => {
    if (name.type !== 'ip' && name.type !== 'dns') {
      throw new PkiError(`the certificate request names a ${name.type} address; only IP and DNS`);
    }
    return name.value;
  });
}

/**
 * What an agent makes before it joins: its own key (which never leaves it) and a request naming
 * the addresses the server will reach it at.
 */
export async function createCertificateRequest(
  hostName: string,
  addresses: readonly string[],
): Promise<{ keyPem: string; csrPem: string }> {
  const keys = await newKeyPair();
  const names = subjectAltNames(addresses);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: subjectOf({ role: 'agent', name: hostName }),
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: names.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(names)],
    },
    crypto,
  );
  return { keyPem: await privateKeyPem(keys.privateKey), csrPem: pem(csr.toString('pem')) };
}

export interface CertificateCheck {
  ok: boolean;
  /** Why not, when not ok. */
  reason?: string;
  identity?: PeerIdentity;
  notAfter: Date;
}

/** Checks that `certPem` was signed by the CA `caPem` and is valid at `at` (default now). */
export async function verifyCertificate(
  certPem: string,
  caPem: string,
  at: Date = new Date(),
): Promise<CertificateCheck> {
  const cert = new x509.X509Certificate(certPem);
  const ca = new x509.X509Certificate(caPem);
  const notAfter = cert.notAfter;
  const identity = peerIdentityOf(subjectFields(cert.subjectName));
  const fail = (reason: string): CertificateCheck => ({
    ok: false,
    reason,
    notAfter,
    ...(identity && { identity }),
  });
  if (cert.issuer !== ca.subject) return fail('not issued by this CA');
  if (!(await cert.verify({ publicKey: ca.publicKey, signatureOnly: true }, crypto))) {
    return fail('signature does not match the CA key');
  }
  if (at < cert.notBefore) return fail('not valid yet');
  if (at > cert.notAfter) return fail('expired');
  return { ok: true, notAfter, ...(identity && { identity }) };
}

function subjectFields(name: x509.Name): { CN?: string; OU?: string } {
  const cn = name.getField('CN');
  const ou = name.getField('OU');
  return {
    ...(cn.length === 1 && { CN: cn[0] }),
    ...(ou.length === 1 && { OU: ou[0] }),
  };
}

/** The IP addresses and DNS names a certificate (PEM) is valid for. */
export function certificateAddresses(certPem: string): string[] {
  const san = new x509.X509Certificate(certPem).getExtension(x509.SubjectAlternativeNameExtension);
  return san?.names.items.map((name) => name.value) ?? [];
}

/** The role and name in a certificate's subject (PEM), when it is a cluster certificate. */
export function identityOfCertificate(certPem: string): PeerIdentity | undefined {
  return peerIdentityOf(subjectFields(new x509.X509Certificate(certPem).subjectName));
}
