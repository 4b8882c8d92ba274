import { describe, expect, it } from 'vitest';
import { loadConfig, redactConfig } from './load.js';

describe('loadConfig', () => {
  it('applies defaults, then the environment, then overrides', () => {
    const config = loadConfig(
      { NOVACRON_DATA_DIR: '/tmp/nc', NOVACRON_API_PORT: '9000' },
      { accel: 'tcg' },
    );
    expect(config).toMatchObject({ dataDir: '/tmp/nc', apiPort: 9000, wsPort: 8091, accel: 'tcg' });
    expect(config.serverUrl).toBe('http://127.0.0.1:9000');
  });

  it('names the variable at fault', () => {
    expect(() => loadConfig({ NOVACRON_API_PORT: 'eighty' })).toThrow(/NOVACRON_API_PORT/);
    expect(() => loadConfig({ NOVACRON_ACCEL: 'xen' })).toThrow(/NOVACRON_ACCEL/);
  });

  it('never shows a secret, not even in an error', () => {
    const config = loadConfig({ NOVACRON_ADMIN_PASSWORD: 'hunter2-secret', NOVACRON_TOKEN: 't' });
    expect(JSON.stringify(redactConfig(config))).not.toMatch(/hunter2|"t"/);
    expect(() => loadConfig({ NOVACRON_ADMIN_PASSWORD: 'short' })).toThrow(/\[redacted\]/);
  });
});
