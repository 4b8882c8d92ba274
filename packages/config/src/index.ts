/**
 * @novacron/config — the one configuration schema and its loader (defaults < NOVACRON_* env <
 * flags), validated once; secrets are redacted for logs. The only package that reads process.env.
 */
export { ConfigSchema, ENV_NAMES, SECRET_KEYS, type Config } from './schema.js';
export {
  ConfigError,
  defaultDataDir,
  environmentWith,
  loadConfig,
  redactConfig,
  userConfigDir,
} from './load.js';
