import {
  QEMU_MIGRATION_STATUSES,
  type AgentDirtyRateReply,
  type AgentMigrationSettings,
  type AgentMigrationStatus,
  type AgentMigrationTuning,
  type QemuMigrationStatus,
} from '@novacron/api';
import { DomainError } from '@novacron/domain';
import { QmpCommandError, type QmpClient } from '@novacron/qmp';

// The QMP side of a live migration (QEMU 7.2, qapi/migration.json): capabilities and parameters
// both QEMUs get, the reading of query-migrate, the TLS credentials object, calc-dirty-rate.

/** Id of the tls-creds-x509 object the agent adds to a QEMU before a TLS migration. */
export const MIGRATION_TLS_OBJECT = 'novacron-migration-tls';

export type MigrationSide = 'source' | 'target';

/** Statuses in which a stream runs (or is being set up) on the source. */
const RUNNING_STATUSES: ReadonlySet<string> = new Set([
  'setup',
  'active',
  'cancelling',
  'postcopy-active',
  'postcopy-paused',
  'postcopy-recover',
  'pre-switchover',
  'device',
  'wait-unplug',
  'colo',
]);

/** Once here, the source no longer holds a complete guest: it can no longer be cancelled. */
const POSTCOPY_STATUSES: ReadonlySet<string> = new Set([
  'postcopy-active',
  'postcopy-paused',
  'postcopy-recover',
]);

export function isRunningStatus(status: QemuMigrationStatus): boolean {
  return RUNNING_STATUSES.has(status);
}

export function isPostcopyStatus(status: QemuMigrationStatus): boolean {
  return POSTCOPY_STATUSES.has(status);
}

export function wantsPostcopy(settings: AgentMigrationSettings): boolean {
  return settings.postcopyReady || settings.strategy === 'postcopy';
}

/** Refuses combinations QEMU 7.2 would refuse later, with a message that says which. */
export function checkSettings(settings: AgentMigrationSettings): void {
  const fail = (message: string) =>
    new DomainError('VALIDATION_FAILED', message, { settings: { ...settings } });
  if (wantsPostcopy(settings) && settings.multifdChannels > 0) {
    throw fail('post-copy does not combine with multifd in QEMU 7.2: set multifdChannels to 0');
  }
  if (settings.compression !== 'none' && settings.multifdChannels === 0) {
    throw fail(`compression ${settings.compression} needs multifd: set multifdChannels above 0`);
  }
}

/**
 * migrate-set-capabilities of one side: every capability NovaCron drives, set explicitly. A source
 * that mirrors its disk pauses before the switch-over, so that the mirror can end in sync first.
 */
export function capabilitiesOf(
  settings: AgentMigrationSettings,
  side: MigrationSide,
  options: { mirror?: boolean } = {},
): { capability: string; state: boolean }[] {
  return [
    { capability: 'events', state: true },
    { capability: 'postcopy-ram', state: wantsPostcopy(settings) },
    { capability: 'multifd', state: settings.multifdChannels > 0 },
    { capability: 'xbzrle', state: settings.xbzrle },
    // Throttling the guest's vCPUs happens where the guest runs.
    ...(side === 'source'
      ? [
          { capability: 'auto-converge', state: settings.strategy === 'autoconverge' },
          { capability: 'pause-before-switchover', state: options.mirror === true },
        ]
      : []),
  ];
}

const MiB = 1024 * 1024;

/**
 * migrate-set-parameters of one side. Both sides need the multifd channels and compression and
 * the TLS credentials; only the source needs the limits, throttle and XBZRLE cache. An empty
 * `tls-creds` switches TLS off (a QEMU keeps what an earlier migration set).
 */
export function parametersOf(
  settings: AgentMigrationSettings,
  side: MigrationSide,
  options: { memoryMiB: number; tlsHostname?: string },
): Record<string, unknown> {
  const parameters: Record<string, unknown> = {
    'tls-creds': settings.tls ? MIGRATION_TLS_OBJECT : '',
    ...(settings.multifdChannels > 0 && {
      'multifd-channels': settings.multifdChannels,
      'multifd-compression': settings.compression,
    }),
  };
  if (side === 'target') return parameters;
  return {
    ...parameters,
    'tls-hostname': settings.tls ? (options.tlsHostname ?? '') : '',
    'max-bandwidth': settings.maxBandwidthBytes,
    'downtime-limit': settings.maxDowntimeMs,
    ...(settings.strategy === 'autoconverge' && {
      'cpu-throttle-initial': 20,
      'cpu-throttle-increment': 10,
    }),
    // A quarter of guest memory, a power of two, at least 4 MiB.
    ...(settings.xbzrle && {
      'xbzrle-cache-size': Math.max(4, 2 ** Math.floor(Math.log2(options.memoryMiB / 4))) * MiB,
    }),
  };
}

/** migrate-set-parameters for a run in progress. */
export function tuningParameters(tuning: AgentMigrationTuning): Record<string, unknown> {
  return {
    ...(tuning.maxBandwidthBytes !== undefined && { 'max-bandwidth': tuning.maxBandwidthBytes }),
    ...(tuning.maxDowntimeMs !== undefined && { 'downtime-limit': tuning.maxDowntimeMs }),
    ...(tuning.cpuThrottleIncrement !== undefined && {
      'cpu-throttle-increment': tuning.cpuThrottleIncrement,
    }),
  };
}

interface QueryMigrateRam {
  transferred?: number;
  remaining?: number;
  total?: number;
  'dirty-pages-rate'?: number;
  'page-size'?: number;
  'dirty-sync-count'?: number;
  mbps?: number;
  'postcopy-requests'?: number;
}

/** What query-migrate answers (the fields NovaCron reads). */
export interface QueryMigrate {
  status?: string;
  'total-time'?: number;
  downtime?: number;
  'expected-downtime'?: number;
  'setup-time'?: number;
  ram?: QueryMigrateRam;
  'cpu-throttle-percentage'?: number;
  'error-desc'?: string;
  'socket-address'?: { type: string; host?: string; port?: string }[];
}

/** The wire reading of query-migrate; a QEMU that never migrated answers no status: `none`. */
export function statusOfQueryMigrate(info: QueryMigrate): AgentMigrationStatus {
  const status = (QEMU_MIGRATION_STATUSES as readonly string[]).includes(info.status ?? '')
    ? (info.status as QemuMigrationStatus)
    : 'none';
  const ram = info.ram;
  const pageSize = ram?.['page-size'] ?? 4096;
  const dirtyPages = ram?.['dirty-pages-rate'];
  const out: AgentMigrationStatus = { status };
  const put = <K extends keyof AgentMigrationStatus>(
    key: K,
    value: AgentMigrationStatus[K] | undefined,
  ) => {
    if (value !== undefined) out[key] = value;
  };
  put('totalTimeMs', info['total-time']);
  put('downtimeMs', info.downtime);
  put('expectedDowntimeMs', info['expected-downtime']);
  put('setupTimeMs', info['setup-time']);
  put('transferredBytes', ram?.transferred);
  put('remainingBytes', ram?.remaining);
  put('totalBytes', ram?.total);
  put('dirtyRateBytes', dirtyPages === undefined ? undefined : dirtyPages * pageSize);
  put('iteration', ram?.['dirty-sync-count']);
  put('throughputMbps', ram?.mbps);
  put('postcopyRequests', ram?.['postcopy-requests']);
  put('cpuThrottlePercent', info['cpu-throttle-percentage']);
  put('error', info['error-desc']);
  return out;
}

/**
 * query-migrate. QEMU sets `completed` a moment before it computes the run's times: a reading in
 * between (total-time 0) is taken again, so that a completed reading carries its figures.
 */
export async function queryMigrate(qmp: QmpClient): Promise<QueryMigrate> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const info = (await qmp.executeRaw('query-migrate')) as QueryMigrate;
    const unsettled = info.status === 'completed' && !info['total-time'] && info.ram !== undefined;
    if (!unsettled || Date.now() > deadline) return info;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The port `migrate-incoming tcp:ADDR:0` bound, from the destination's query-migrate. */
export function boundPort(info: QueryMigrate): number | null {
  const port = Number(info['socket-address']?.find((a) => a.type === 'inet')?.port);
  return Number.isInteger(port) && port > 0 ? port : null;
}

/** Whether migrate-start-postcopy is possible: postcopy-ram was set before the start. */
export async function postcopyEnabled(qmp: QmpClient): Promise<boolean> {
  const caps = (await qmp.executeRaw('query-migrate-capabilities')) as {
    capability: string;
    state: boolean;
  }[];
  return caps.some((c) => c.capability === 'postcopy-ram' && c.state);
}

/**
 * Adds the tls-creds-x509 object (again: a QEMU started before keeps running, and the folder may
 * hold newer certificates than an object added earlier). `verify-peer` on both ends: the target
 * wants the source's client certificate from the cluster CA, the source checks the target's.
 */
export async function addTlsCreds(
  qmp: QmpClient,
  dir: string,
  endpoint: 'server' | 'client',
): Promise<void> {
  try {
    await qmp.executeRaw('object-del', { id: MIGRATION_TLS_OBJECT });
  } catch (error) {
    // Not there yet.
    if (!(error instanceof QmpCommandError)) throw error;
  }
  await qmp.executeRaw('object-add', {
    'qom-type': 'tls-creds-x509',
    id: MIGRATION_TLS_OBJECT,
    dir,
    endpoint,
    'verify-peer': true,
  });
}

/**
 * calc-dirty-rate over `seconds` (page sampling), then query-dirty-rate until measured. QEMU 7.2
 * reports MiB/s; the answer is bytes/s.
 */
export async function measureDirtyRate(
  qmp: QmpClient,
  seconds: number,
): Promise<AgentDirtyRateReply> {
  await qmp.executeRaw('calc-dirty-rate', { 'calc-time': seconds });
  const deadline = Date.now() + (seconds + 15) * 1000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, seconds * 250)));
    const info = (await qmp.executeRaw('query-dirty-rate')) as {
      status: string;
      'dirty-rate'?: number;
      'calc-time': number;
    };
    if (info.status === 'measured' && info['dirty-rate'] !== undefined) {
      return { dirtyRateBytes: info['dirty-rate'] * MiB, measuredSeconds: info['calc-time'] };
    }
    if (Date.now() > deadline) {
      throw new DomainError(
        'QEMU_FAILED',
        `calc-dirty-rate did not finish within ${seconds + 15} s (status ${info.status})`,
      );
    }
  }
}
