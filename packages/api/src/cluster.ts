import { Type, type Static } from 'typebox';
import { AgentHostInfo, AgentVmStatus } from './agent.js';
import { Id, Name, Timestamp } from './common.js';
import { HostState } from './host.js';
import { HeartbeatMetrics } from './metrics.js';

// Cluster trust (docs/adr/0008-cluster-trust.md): join tokens on the REST API, and the calls
// agents make to the server's cluster port over mutual TLS.

/** `ncj1.<secret>.<SHA-256 of the cluster CA, hex>`. */
export const JOIN_TOKEN_PATTERN = '^ncj1\\.[A-Za-z0-9_-]{43}\\.[0-9a-f]{64}$';

/** POST /api/v1/hosts: a join token for a host of this name. */
export const HostAdd = Type.Object({ name: Name }, { additionalProperties: false });
export type HostAdd = Static<typeof HostAdd>;

export const HostJoinToken = Type.Object({
  name: Type.String(),
  /** Shown once: the server keeps only its hash. */
  token: Type.String(),
  expiresAt: Timestamp,
  /** The command that joins a machine with this token. */
  joinCommand: Type.String(),
});
export type HostJoinToken = Static<typeof HostJoinToken>;

/** POST /cluster/v1/join: the only cluster call made without a client certificate. */
export const ClusterJoinRequest = Type.Object(
  {
    token: Type.String({ pattern: JOIN_TOKEN_PATTERN, maxLength: 200 }),
    /** PKCS#10 request, PEM, for the agent's own ECDSA P-256 key. */
    csr: Type.String({ minLength: 1, maxLength: 16_384 }),
    /** The host name the agent expects; refused (token unused) when the token names another. */
    name: Type.Optional(Name),
  },
  { additionalProperties: false },
);
export type ClusterJoinRequest = Static<typeof ClusterJoinRequest>;

export const ClusterJoinResponse = Type.Object({
  /** The agent's certificate, PEM, signed by the cluster CA. */
  certificate: Type.String(),
  /** The cluster CA certificate, PEM. */
  ca: Type.String(),
  hostName: Type.String(),
});
export type ClusterJoinResponse = Static<typeof ClusterJoinResponse>;

/** What a host offers; its name comes from its certificate, never from a body. */
export const ClusterHostFacts = Type.Omit(AgentHostInfo, ['name']);
export type ClusterHostFacts = Static<typeof ClusterHostFacts>;

/** POST /cluster/v1/heartbeat: the host's facts and every VM's observed state. */
export const ClusterHeartbeat = Type.Object(
  {
    /** Where the server reaches this agent's API. */
    agentUrl: Type.String({ pattern: '^https://', maxLength: 2048 }),
    host: ClusterHostFacts,
    vms: Type.Array(AgentVmStatus, { maxItems: 10_000 }),
    /** The agent's latest metrics sample; optional so that older agents still validate. */
    metrics: Type.Optional(HeartbeatMetrics),
  },
  { additionalProperties: false },
);
export type ClusterHeartbeat = Static<typeof ClusterHeartbeat>;

export const ClusterHeartbeatReply = Type.Object({
  hostName: Type.String(),
  state: HostState,
});
export type ClusterHeartbeatReply = Static<typeof ClusterHeartbeatReply>;

/**
 * The files of an image in the image store, in the order its SHA-256 covers them (the hash of
 * their concatenation). Also the allow-list of GET /cluster/v1/images/{id}/{file}.
 */
export const IMAGE_FILES = {
  kernel: ['vmlinuz', 'initrd.img'],
  disk: ['disk.qcow2'],
} as const;
export const IMAGE_FILE_NAMES = ['vmlinuz', 'initrd.img', 'disk.qcow2'] as const;
export type ImageFileName = (typeof IMAGE_FILE_NAMES)[number];

export const ImageFileParams = Type.Object({ id: Id, file: Type.Enum(IMAGE_FILE_NAMES) });
export type ImageFileParams = Static<typeof ImageFileParams>;
