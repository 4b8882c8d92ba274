import type { AgentMigrationSettings } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import { agentPaths, vmDiskPath } from '../paths.js';
import {
  capabilitiesOf,
  checkSettings,
  MIGRATION_TLS_OBJECT,
  parametersOf,
  statusOfQueryMigrate,
} from './qmp-migration.js';

const MiB = 1024 * 1024;
const base: AgentMigrationSettings = {
  strategy: 'precopy',
  postcopyReady: false,
  maxBandwidthBytes: 64 * MiB,
  maxDowntimeMs: 300,
  multifdChannels: 0,
  compression: 'none',
  xbzrle: false,
  tls: true,
};

describe('migration settings for QMP', () => {
  it('sets every capability on both sides, auto-converge only on the source', () => {
    const settings = { ...base, strategy: 'autoconverge' as const, multifdChannels: 4 };
    expect(capabilitiesOf(settings, 'source')).toEqual([
      { capability: 'events', state: true },
      { capability: 'postcopy-ram', state: false },
      { capability: 'multifd', state: true },
      { capability: 'xbzrle', state: false },
      { capability: 'auto-converge', state: true },
      { capability: 'pause-before-switchover', state: false },
    ]);
    expect(capabilitiesOf(settings, 'source', { mirror: true })).toContainEqual({
      capability: 'pause-before-switchover',
      state: true,
    });
    expect(capabilitiesOf(settings, 'target').map((c) => c.capability)).not.toContain(
      'auto-converge',
    );
    expect(capabilitiesOf({ ...base, postcopyReady: true }, 'target')).toContainEqual({
      capability: 'postcopy-ram',
      state: true,
    });
  });

  it('gives the target only what both sides need, the source its limits and TLS name', () => {
    const settings = { ...base, multifdChannels: 2, compression: 'zstd' as const, xbzrle: true };
    expect(parametersOf(settings, 'target', { memoryMiB: 256 })).toEqual({
      'tls-creds': MIGRATION_TLS_OBJECT,
      'multifd-channels': 2,
      'multifd-compression': 'zstd',
    });
    expect(parametersOf(settings, 'source', { memoryMiB: 256, tlsHostname: '10.77.0.12' })).toEqual(
      {
        'tls-creds': MIGRATION_TLS_OBJECT,
        'tls-hostname': '10.77.0.12',
        'multifd-channels': 2,
        'multifd-compression': 'zstd',
        'max-bandwidth': 64 * MiB,
        'downtime-limit': 300,
        'xbzrle-cache-size': 64 * MiB,
      },
    );
    // TLS off clears what an earlier migration of the same QEMU set.
    expect(parametersOf({ ...base, tls: false }, 'source', { memoryMiB: 256 })).toMatchObject({
      'tls-creds': '',
      'tls-hostname': '',
    });
  });

  it('refuses post-copy with multifd and compression without multifd', () => {
    expect(() => checkSettings({ ...base, postcopyReady: true, multifdChannels: 2 })).toThrow(
      /post-copy does not combine with multifd/,
    );
    expect(() => checkSettings({ ...base, compression: 'zstd' })).toThrow(/needs multifd/);
    expect(() => checkSettings(base)).not.toThrow();
  });

  it('reads query-migrate: dirty pages times page size, QEMU names to ours', () => {
    expect(
      statusOfQueryMigrate({
        status: 'active',
        'total-time': 1200,
        'expected-downtime': 40,
        'setup-time': 3,
        'cpu-throttle-percentage': 20,
        ram: {
          transferred: 100,
          remaining: 50,
          total: 256 * MiB,
          'dirty-pages-rate': 1000,
          'page-size': 4096,
          'dirty-sync-count': 3,
          mbps: 800,
          'postcopy-requests': 0,
        },
      }),
    ).toEqual({
      status: 'active',
      totalTimeMs: 1200,
      expectedDowntimeMs: 40,
      setupTimeMs: 3,
      cpuThrottlePercent: 20,
      transferredBytes: 100,
      remainingBytes: 50,
      totalBytes: 256 * MiB,
      dirtyRateBytes: 4_096_000,
      iteration: 3,
      throughputMbps: 800,
      postcopyRequests: 0,
    });
    expect(statusOfQueryMigrate({})).toEqual({ status: 'none' });
    expect(statusOfQueryMigrate({ status: 'failed', 'error-desc': 'boom' })).toEqual({
      status: 'failed',
      error: 'boom',
    });
  });
});

describe('vmDiskPath', () => {
  it('keeps local disks in the VM folder and shared ones in the pool', () => {
    const paths = agentPaths('/data', '/pool');
    expect(vmDiskPath(paths, { id: 'vm1' })).toBe('/data/agent/vms/vm1/disk.qcow2');
    expect(vmDiskPath(paths, { id: 'vm1', pool: 'local' })).toBe('/data/agent/vms/vm1/disk.qcow2');
    expect(vmDiskPath(paths, { id: 'vm1', pool: 'shared' })).toBe('/pool/vms/vm1/disk.qcow2');
  });

  it('refuses a shared disk on a host without the pool, and ids that are not path-safe', () => {
    expect(() => vmDiskPath(agentPaths('/data'), { id: 'vm1', pool: 'shared' })).toThrow(
      /NOVACRON_SHARED_POOL_DIR/,
    );
    expect(() =>
      vmDiskPath(agentPaths('/data', '/pool'), { id: '../x', pool: 'shared' }),
    ).toThrow();
  });
});
