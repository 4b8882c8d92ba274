import {
  CLOUD_INIT_HOSTNAME_PATTERN,
  MAX_CLOUD_INIT_NETWORK_CONFIG_BYTES,
  MAX_CLOUD_INIT_SSH_KEY_LENGTH,
  MAX_CLOUD_INIT_SSH_KEYS,
  MAX_CLOUD_INIT_USER_DATA_BYTES,
  type AgentCloudInit,
  type CloudInit,
} from '@novacron/api';
import { DomainError } from './errors.js';

/**
 * The first line of user-data that cloud-init acts on (its user-data handlers and MIME
 * detection); anything else it would ignore with a warning, which a user would never see.
 */
const USER_DATA_HEADERS = [
  '#cloud-config',
  '#!',
  '#include',
  '#cloud-boothook',
  '#cloud-config-archive',
  '#cloud-config-jsonp',
  '#part-handler',
  'Content-Type: multipart/',
];

const SSH_KEY =
  /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/;
const HOSTNAME = new RegExp(CLOUD_INIT_HOSTNAME_PATTERN);
const INSTANCE_ID = /^[A-Za-z0-9_.-]{1,128}$/;
// Text only: no NUL and no control characters other than tab, line feed and carriage return.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * Checks what a user gives for cloud-init, beyond the schema's bounds: user-data opens with a
 * header cloud-init acts on, keys are single-line OpenSSH public keys, network-config names
 * version 1 or 2, everything is text within its byte limit. Throws CLOUD_INIT_INVALID.
 */
export function assertValidCloudInit(input: CloudInit): void {
  if (input.userData !== undefined) checkUserData(input.userData);
  if (input.sshKeys !== undefined) checkSshKeys(input.sshKeys);
  if (input.hostname !== undefined && !HOSTNAME.test(input.hostname)) {
    invalid('hostname', `'${input.hostname}' is not a valid host name`);
  }
  if (input.networkConfig !== undefined) checkNetworkConfig(input.networkConfig);
}

/** The seed a host writes: what the user gave, with the VM's stable instance id and host name. */
export function cloudInitForVm(input: CloudInit, vm: { id: string; name: string }): AgentCloudInit {
  assertValidCloudInit(input);
  return {
    instanceId: `iid-${vm.id}`,
    hostname: input.hostname ?? vm.name,
    sshKeys: input.sshKeys ?? [],
    ...(input.userData !== undefined && { userData: input.userData }),
    ...(input.networkConfig !== undefined && { networkConfig: input.networkConfig }),
  };
}

/**
 * A clone's seed: the source's data as a new instance (its own id, so cloud-init configures the
 * clone afresh), named after the clone unless the source's host name was set by hand.
 */
export function cloudInitForClone(
  seed: AgentCloudInit,
  source: { name: string },
  clone: { id: string; name: string },
): AgentCloudInit {
  return {
    ...seed,
    instanceId: `iid-${clone.id}`,
    hostname: seed.hostname === source.name ? clone.name : seed.hostname,
  };
}

/** The host's own check of a seed before it is written (it may come from an older server). */
export function assertValidAgentCloudInit(seed: AgentCloudInit): void {
  if (!INSTANCE_ID.test(seed.instanceId)) invalid('instanceId', 'invalid instance id');
  assertValidCloudInit({
    hostname: seed.hostname,
    sshKeys: seed.sshKeys,
    ...(seed.userData !== undefined && { userData: seed.userData }),
    ...(seed.networkConfig !== undefined && { networkConfig: seed.networkConfig }),
  });
}

/** Splits an authorized_keys-style text into keys: blank lines and `#` comments are skipped. */
export function parseSshKeys(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function checkUserData(userData: string): void {
  checkText('userData', userData, MAX_CLOUD_INIT_USER_DATA_BYTES);
  if (!USER_DATA_HEADERS.some((header) => userData.startsWith(header))) {
    invalid(
      'userData',
      `user-data must start with one of ${USER_DATA_HEADERS.map((h) => `'${h}'`).join(', ')}`,
    );
  }
}

function checkSshKeys(keys: readonly string[]): void {
  if (keys.length > MAX_CLOUD_INIT_SSH_KEYS) {
    invalid('sshKeys', `at most ${MAX_CLOUD_INIT_SSH_KEYS} SSH keys`);
  }
  keys.forEach((key, index) => {
    if (key.length > MAX_CLOUD_INIT_SSH_KEY_LENGTH || CONTROL.test(key) || !SSH_KEY.test(key)) {
      invalid(`sshKeys[${index}]`, 'not an OpenSSH public key (type, base64 key, comment)');
    }
  });
}

function checkNetworkConfig(config: string): void {
  checkText('networkConfig', config, MAX_CLOUD_INIT_NETWORK_CONFIG_BYTES);
  // JSON, or YAML with a `version: 1|2` line (at the top or under `network:`).
  if (!jsonNetworkVersionOk(config) && !/^\s*version\s*:\s*[12]\s*$/m.test(config)) {
    invalid('networkConfig', 'network-config must name version 1 or 2 (`version: 2`)');
  }
}

function jsonNetworkVersionOk(config: string): boolean {
  try {
    const parsed = JSON.parse(config) as { version?: unknown; network?: { version?: unknown } };
    const version = parsed.network?.version ?? parsed.version;
    return version === 1 || version === 2;
  } catch {
    return false;
  }
}

function checkText(field: string, text: string, maxBytes: number): void {
  if (new TextEncoder().encode(text).length > maxBytes) {
    invalid(field, `${field} is larger than ${maxBytes} bytes`);
  }
  if (CONTROL.test(text) || text.includes('\uFFFD')) {
    invalid(field, `${field} must be UTF-8 text without control characters`);
  }
}

function invalid(field: string, message: string): never {
  throw new DomainError('CLOUD_INIT_INVALID', message, { field });
}
