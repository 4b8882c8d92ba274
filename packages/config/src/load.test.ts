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

  it('has cluster settings: port 8093, hosts unreachable after 15 s, heartbeats every 2 s', () => {
    expect(loadConfig({})).toMatchObject({
      clusterPort: 8093,
      hostTimeoutSeconds: 15,
      heartbeatIntervalMs: 2000,
    });
    expect(
      loadConfig({
        NOVACRON_CLUSTER_PORT: '9093',
        NOVACRON_HOST_TIMEOUT: '3',
        NOVACRON_HEARTBEAT_INTERVAL_MS: '500',
      }),
    ).toMatchObject({ clusterPort: 9093, hostTimeoutSeconds: 3, heartbeatIntervalMs: 500 });
    expect(() => loadConfig({ NOVACRON_HOST_TIMEOUT: '0' })).toThrow(/NOVACRON_HOST_TIMEOUT/);
  });

  it('gives up a live migration that makes no progress for 60 s unless told otherwise', () => {
    expect(loadConfig({}).migrationStallSeconds).toBe(60);
    expect(loadConfig({ NOVACRON_MIGRATION_STALL_TIMEOUT: '20' }).migrationStallSeconds).toBe(20);
    for (const bad of ['0', '4', '1.5', 'soon', '3601']) {
      expect(() => loadConfig({ NOVACRON_MIGRATION_STALL_TIMEOUT: bad })).toThrow(
        /NOVACRON_MIGRATION_STALL_TIMEOUT/,
      );
    }
  });

  it('measures metrics every 5 s unless NOVACRON_METRICS_INTERVAL_MS says otherwise', () => {
    expect(loadConfig({}).metricsIntervalMs).toBe(5000);
    expect(loadConfig({ NOVACRON_METRICS_INTERVAL_MS: '1000' }).metricsIntervalMs).toBe(1000);
    expect(() => loadConfig({ NOVACRON_METRICS_INTERVAL_MS: '5' })).toThrow(
      /NOVACRON_METRICS_INTERVAL_MS/,
    );
  });
});
