import { hostname, homedir } from 'node:os';
import { join } from 'node:path';
import { Value } from 'typebox/value';
import { ConfigSchema, ENV_NAMES, SECRET_KEYS, type Config } from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** The data directory when NOVACRON_DATA_DIR is not set: system-wide for root, per user otherwise. */
export function defaultDataDir(env: Env = process.env, uid = process.getuid?.() ?? 0): string {
  if (uid === 0) return '/var/lib/novacron';
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'novacron');
}

/** The user's config directory, where `novacron login` keeps its token. */
export function userConfigDir(env: Env = process.env): string {
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'novacron');
}

function defaults(env: Env): Config {
  const apiPort = 8090;
  return {
    dataDir: defaultDataDir(env),
    schedulerPolicy: 'spread',
    cpuOvercommit: 4,
    memoryOvercommit: 1,
    diskOvercommit: 1,
    apiHost: '127.0.0.1',
    apiPort,
    wsPort: 8091,
    agentHost: '127.0.0.1',
    agentPort: 8094,
    clusterPort: 8093,
    hostTimeoutSeconds: 15,
    heartbeatIntervalMs: 2000,
    metricsIntervalMs: 5000,
    clusterSubnet: '10.77.0.0/24',
    clusterPrefix: 'nc',
    defaultPool: 'local',
    // QEMU's own default cap; a link measured faster can be given with the setting.
    migrationMaxBandwidthBytes: 128 * 1024 * 1024,
    migrationMaxDowntimeMs: 300,
    migrationTls: true,
    migrationStallSeconds: 60,
    totpRequired: false,
    loginMaxFailures: 5,
    loginLockoutSeconds: 900,
    agentName:
      hostname()
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')
        .slice(0, 63) || 'local',
    accel: 'auto',
    vmNetwork: 'auto',
    bridge: 'novacronbr0',
    vmSubnet: '10.78.0.0/24',
    vmNat: 'off',
    serverUrl: `http://127.0.0.1:${apiPort}`,
    logLevel: 'info',
  };
}

const NUMERIC: readonly (keyof Config)[] = [
  'apiPort',
  'cpuOvercommit',
  'memoryOvercommit',
  'diskOvercommit',
  'wsPort',
  'agentPort',
  'clusterPort',
  'hostTimeoutSeconds',
  'heartbeatIntervalMs',
  'metricsIntervalMs',
  'agentCpus',
  'agentMemoryMiB',
  'migrationMaxBandwidthBytes',
  'migrationMaxDowntimeMs',
  'migrationStallSeconds',
  'loginMaxFailures',
  'loginLockoutSeconds',
];

const BOOLEAN: readonly (keyof Config)[] = ['migrationTls', 'totpRequired'];

/**
 * Loads the configuration once: defaults < NOVACRON_* environment < explicit overrides (flags).
 * Throws ConfigError naming the variable at fault.
 */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const fromEnv: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(ENV_NAMES) as [keyof Config, string][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    fromEnv[key] = NUMERIC.includes(key)
      ? Number(raw)
      : BOOLEAN.includes(key)
        ? booleanOf(raw)
        : raw;
  }
  const merged: Record<string, unknown> = { ...defaults(env), ...fromEnv };
  for (const [key, value] of Object.entries(overrides))
    if (value !== undefined) merged[key] = value;
  // Without an explicit server URL the CLI talks to the local API port.
  if (fromEnv.serverUrl === undefined && overrides.serverUrl === undefined) {
    merged.serverUrl = `http://127.0.0.1:${String(merged.apiPort)}`;
  }
  if (!Value.Check(ConfigSchema, merged)) {
    const first = [...Value.Errors(ConfigSchema, merged)][0];
    const key = (first?.instancePath ?? '').replace(/^\//, '') as keyof Config;
    const name = ENV_NAMES[key] ?? key;
    const shown = SECRET_KEYS.includes(key) ? '[redacted]' : JSON.stringify(merged[key]);
    throw new ConfigError(`invalid setting ${name}=${shown}: ${first?.message ?? 'invalid'}`);
  }
  return merged;
}

/** A copy safe to log: secrets replaced by `[redacted]`. */
export function redactConfig(config: Config): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...config };
  for (const key of SECRET_KEYS) if (copy[key] !== undefined) copy[key] = '[redacted]';
  return copy;
}

/** This process's environment with `extra` on top: for child processes NovaCron starts. */
export function environmentWith(
  extra: Record<string, string>,
  env: Env = process.env,
): Record<string, string | undefined> {
  return { ...env, ...extra };
}

/** `true`/`1`/`yes`/`on` and their opposites; anything else is left for the schema to refuse. */
function booleanOf(raw: string): boolean | string {
  const text = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  return raw;
}
