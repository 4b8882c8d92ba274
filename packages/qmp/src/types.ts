// Wire shapes of the QEMU Machine Protocol (docs/interop/qmp-spec and qapi/*.json of QEMU 7.2),
// limited to what NovaCron uses; anything else goes through `QmpClient.executeRaw`.

export interface QmpVersionTriple {
  major: number;
  minor: number;
  micro: number;
}

export interface QmpVersion {
  qemu: QmpVersionTriple;
  package: string;
}

/** The first line QEMU sends on a new connection. */
export interface QmpGreeting {
  QMP: { version: QmpVersion; capabilities: string[] };
}

/** QEMU's RunState enumeration. */
export type QmpRunState =
  | 'debug'
  | 'inmigrate'
  | 'internal-error'
  | 'io-error'
  | 'paused'
  | 'postmigrate'
  | 'prelaunch'
  | 'finish-migrate'
  | 'restore-vm'
  | 'running'
  | 'save-vm'
  | 'shutdown'
  | 'suspended'
  | 'watchdog'
  | 'guest-panicked'
  | 'colo';

export interface QmpStatusInfo {
  status: QmpRunState;
  running: boolean;
  singlestep?: boolean;
}

export interface QmpCpuInfoFast {
  'cpu-index': number;
  'qom-path': string;
  'thread-id': number;
  target: string;
}

/** Counters of one block device from `query-blockstats` (the fields NovaCron reads). */
export interface QmpBlockStats {
  device: string;
  'node-name'?: string;
  qdev?: string;
  stats: {
    rd_bytes: number;
    wr_bytes: number;
    rd_operations: number;
    wr_operations: number;
    flush_operations?: number;
  };
}

type NoReturn = Record<string, never>;

/** Each typed command: its arguments (`undefined` when it takes none) and what it returns. */
export interface QmpCommands {
  qmp_capabilities: { args: { enable?: string[] } | undefined; ret: NoReturn };
  'query-status': { args: undefined; ret: QmpStatusInfo };
  'query-version': { args: undefined; ret: QmpVersion };
  'query-name': { args: undefined; ret: { name?: string } };
  'query-kvm': { args: undefined; ret: { enabled: boolean; present: boolean } };
  'query-cpus-fast': { args: undefined; ret: QmpCpuInfoFast[] };
  'query-blockstats': { args: { 'query-nodes'?: boolean } | undefined; ret: QmpBlockStats[] };
  system_powerdown: { args: undefined; ret: NoReturn };
  system_reset: { args: undefined; ret: NoReturn };
  stop: { args: undefined; ret: NoReturn };
  cont: { args: undefined; ret: NoReturn };
  quit: { args: undefined; ret: NoReturn };
  'human-monitor-command': {
    args: { 'command-line': string; 'cpu-index'?: number };
    ret: string;
  };
}

export type QmpCommandName = keyof QmpCommands;
export type QmpArgs<C extends QmpCommandName> = QmpCommands[C]['args'];
export type QmpReturn<C extends QmpCommandName> = QmpCommands[C]['ret'];

/** An asynchronous event (`SHUTDOWN`, `POWERDOWN`, `RESET`, `STOP`, `RESUME`, ...). */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** Per-command bounds: a deadline in ms, an AbortSignal, or both (first one wins). */
export interface QmpExecuteOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** `execute(command, args?, options?)`: args are required only for commands that need them. */
export type QmpExecuteRest<C extends QmpCommandName> =
  undefined extends QmpArgs<C>
    ? [args?: QmpArgs<C>, options?: QmpExecuteOptions]
    : [args: QmpArgs<C>, options?: QmpExecuteOptions];
