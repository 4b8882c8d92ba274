import { Type, type Static } from 'typebox';

// cloud-init (docs/adr/0024-cloud-init-and-foreign-images.md): what a VM is given at creation,
// kept with it, and written by its host into a NoCloud seed ISO attached as a CD-ROM.

export const MAX_CLOUD_INIT_USER_DATA_BYTES = 64 * 1024;
export const MAX_CLOUD_INIT_NETWORK_CONFIG_BYTES = 16 * 1024;
export const MAX_CLOUD_INIT_SSH_KEYS = 32;
export const MAX_CLOUD_INIT_SSH_KEY_LENGTH = 16 * 1024;
/** An RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
export const CLOUD_INIT_HOSTNAME_PATTERN =
  '^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$';

/**
 * What a VM's guest receives through cloud-init. `userData` must open with a header cloud-init
 * recognises (`#cloud-config`, `#!`, `#include`, `#cloud-boothook`, `#cloud-config-archive`,
 * `#part-handler`, or a MIME multipart `Content-Type:`); `sshKeys` are OpenSSH public keys;
 * `hostname` defaults to the VM's name; `networkConfig` is network-config version 1 or 2.
 */
export const CloudInit = Type.Object(
  {
    userData: Type.Optional(
      Type.String({ minLength: 1, maxLength: MAX_CLOUD_INIT_USER_DATA_BYTES }),
    ),
    sshKeys: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: MAX_CLOUD_INIT_SSH_KEY_LENGTH }), {
        maxItems: MAX_CLOUD_INIT_SSH_KEYS,
      }),
    ),
    hostname: Type.Optional(Type.String({ pattern: CLOUD_INIT_HOSTNAME_PATTERN, maxLength: 253 })),
    networkConfig: Type.Optional(
      Type.String({ minLength: 1, maxLength: MAX_CLOUD_INIT_NETWORK_CONFIG_BYTES }),
    ),
  },
  { additionalProperties: false },
);
export type CloudInit = Static<typeof CloudInit>;

/** What a VM shows of its cloud-init data: never the user-data itself (it may hold secrets). */
export const CloudInitSummary = Type.Object({
  instanceId: Type.String(),
  hostname: Type.String(),
  sshKeys: Type.Integer(),
  userDataBytes: Type.Integer(),
  networkConfig: Type.Boolean(),
});
export type CloudInitSummary = Static<typeof CloudInitSummary>;

/** What a host writes into the VM's seed; the same on every host the VM runs on. */
export const AgentCloudInit = Type.Object({
  /** Stable for the VM's life (cloud-init runs its once-per-instance modules once). */
  instanceId: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,128}$' }),
  hostname: Type.String({ pattern: CLOUD_INIT_HOSTNAME_PATTERN, maxLength: 253 }),
  userData: Type.Optional(Type.String({ maxLength: MAX_CLOUD_INIT_USER_DATA_BYTES })),
  sshKeys: Type.Array(Type.String({ maxLength: MAX_CLOUD_INIT_SSH_KEY_LENGTH }), {
    maxItems: MAX_CLOUD_INIT_SSH_KEYS,
  }),
  networkConfig: Type.Optional(Type.String({ maxLength: MAX_CLOUD_INIT_NETWORK_CONFIG_BYTES })),
});
export type AgentCloudInit = Static<typeof AgentCloudInit>;
