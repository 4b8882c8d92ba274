import { open } from 'node:fs/promises';
import {
  MAX_CLOUD_INIT_NETWORK_CONFIG_BYTES,
  MAX_CLOUD_INIT_USER_DATA_BYTES,
  type CloudInit,
} from '@novacron/api';
import { assertValidCloudInit, isDomainError, parseSshKeys } from '@novacron/domain';
import { CliError } from '../errors.js';

/** The cloud-init options of `vm create`. */
export interface CloudInitOptions {
  /** Files of OpenSSH public keys (authorized_keys style), repeatable. */
  sshKey?: string[];
  userData?: string;
  hostname?: string;
  networkConfig?: string;
}

const MAX_SSH_KEY_FILE_BYTES = 64 * 1024;

/**
 * The request's `cloudInit` from the files the options name, checked as the server checks it, so
 * a bad file is refused before anything is sent. Undefined when no option was given.
 */
export async function cloudInitFromOptions(
  options: CloudInitOptions,
): Promise<CloudInit | undefined> {
  const cloudInit: CloudInit = {};
  if (options.sshKey !== undefined) {
    const keys: string[] = [];
    for (const file of options.sshKey) {
      keys.push(...parseSshKeys(await readBounded(file, MAX_SSH_KEY_FILE_BYTES, '--ssh-key')));
    }
    cloudInit.sshKeys = keys;
  }
  if (options.userData !== undefined) {
    cloudInit.userData = await readBounded(
      options.userData,
      MAX_CLOUD_INIT_USER_DATA_BYTES,
      '--user-data',
    );
  }
  if (options.networkConfig !== undefined) {
    cloudInit.networkConfig = await readBounded(
      options.networkConfig,
      MAX_CLOUD_INIT_NETWORK_CONFIG_BYTES,
      '--network-config',
    );
  }
  if (options.hostname !== undefined) cloudInit.hostname = options.hostname;
  if (Object.keys(cloudInit).length === 0) return undefined;
  try {
    assertValidCloudInit(cloudInit);
  } catch (error) {
    if (isDomainError(error)) throw new CliError(error.code, error.message, error.details, 2);
    throw error;
  }
  return cloudInit;
}

/** A text file of at most `maxBytes`, read without first loading a larger one. */
async function readBounded(path: string, maxBytes: number, option: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new CliError(
      'USAGE',
      `${option}: cannot read ${path}: ${(error as Error).message}`,
      {},
      2,
    );
  }
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) {
      throw new CliError(
        'CLOUD_INIT_INVALID',
        `${option}: ${path} is ${size} bytes, over the ${maxBytes}-byte limit`,
        {},
        2,
      );
    }
    return (await handle.readFile()).toString('utf8');
  } finally {
    await handle.close();
  }
}
