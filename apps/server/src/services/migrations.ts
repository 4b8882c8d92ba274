import type {
  AgentMigrationSettings,
  AgentMigrationStatus,
  Host,
  MigrationPlan,
  MigrationPlanRequest,
  MigrationProgress,
  MigrationRequest,
  Operation,
  Vm,
} from '@novacron/api';
import { DomainError, isDomainError } from '@novacron/domain';
import {
  migrationResult,
  migrationSettings,
  observeMigration,
  predict,
  progressEvent,
  progressPercent,
  resolveLimits,
  stallPolicyFor,
  DEFAULT_STALL_POLICY,
  startStallWatch,
  toWirePrediction,
  isMigrationPhase,
  recoveryDecision,
  sourceView,
  targetView,
  type HostReport,
  type MigrationDefaults,
  type MigrationPhase,
  type Prediction,
  type StallState,
} from '@novacron/migration';
import type { Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentPort } from '../agents/agent-client.js';
import { toDomainError } from '../errors.js';
import type { HostService } from './hosts.js';
import {
  cancelled,
  type OperationContext,
  type OperationRunner,
  type Recovery,
  type RecoveryPlan,
} from './operations.js';
import type { VmService } from './vms.js';
import { assertMovable } from './snapshots.js';
import { refuseLocalDataDisks } from './hardware.js';

const MiB = 1024 * 1024;
/** How often the source is asked how far the stream got. */
const POLL_MS = 200;
/** How often a mirrored run's source is read: its guest is paused from pre-switchover until then. */
const SWITCHOVER_POLL_MS = 25;
/** Operation rows are written at most this often while bytes move (events carry the rest). */
const PROGRESS_WRITE_MS = 1000;
/** The window calc-dirty-rate measures over (QEMU's minimum is one second). */
const DIRTY_RATE_SECONDS = 1;
/** How long a restarted server waits for a host that may hold the guest before flagging the VM. */
const RECOVERY_WAIT_MS = 5 * 60_000;
/** How long a host may stay unreachable in the middle of a migration before it is rolled back. */
const AGENT_GRACE_MS = 30_000;

/** What a migrate operation records as it goes (its `metadata`); a restarted server acts on it. */
interface MigrationRecord {
  from: string;
  to: string;
  settings: AgentMigrationSettings;
  /** The state the VM had before: where a rollback returns it. */
  before: 'running' | 'paused';
  /** The plan's predictions (wire form) and planning time, kept for the result. */
  plan: Pick<MigrationPlan, 'from' | 'to' | 'predictions' | 'planningTimeMs'>;
  reason: string;
  uri?: string;
  escalated?: 'postcopy' | 'throttle' | null;
  /** Set before migrate-start-postcopy: from then on only the target can hold the whole guest. */
  switched?: boolean;
  /** Set once the source reported the stream completed: its QEMU no longer runs the guest. */
  handedOff?: boolean;
  /** Shared-nothing: the local disk was mirrored to the target (ADR 20). */
  mirrored?: boolean;
  /** The mirror's figures once in sync: bytes QEMU copied and how long it took. */
  mirror?: { mirroredBytes: number; mirrorMs: number };
  /** A stopped VM: only its disk (or, on the shared pool, its record) moves. */
  cold?: boolean;
}

/** The phases a migrate operation records (docs/adr/0013-live-migration.md). */
const PHASE = {
  planning: 'planning',
  preparing: 'preparing-target',
  mirroring: 'mirroring',
  transferring: 'transferring',
  postcopy: 'postcopy',
  switching: 'switching-over',
  finishing: 'finishing',
} as const satisfies Record<string, MigrationPhase>;

/** Told of every reading of a running migration (server.ts sends it out as a live event). */
export type ProgressListener = (vm: Vm, progress: MigrationProgress) => void;

/**
 * Live migration of a running guest to another host (ARCHITECTURE.md §4): plans from the measured
 * dirty rate, prepares a QEMU waiting on the target, starts the stream on the source and watches it,
 * escalates a stalled run, and moves the VM's record only once the target runs the guest. Migration
 * data goes from QEMU to QEMU; the server only steers.
 */
export class MigrationService {
  constructor(
    private readonly store: Store,
    private readonly vms: VmService,
    private readonly hosts: HostService,
    private readonly operations: OperationRunner,
    private readonly logger: Logger,
    private readonly defaults: MigrationDefaults,
    private readonly onProgress: ProgressListener = () => undefined,
  ) {}

  /** `POST /vms/{id}/migrate/plan`: measures and predicts without moving anything. */
  async plan(idOrName: string, request: MigrationPlanRequest, project?: string) {
    const vm = await this.vms.get(idOrName, project);
    await assertMovable(this.store, vm);
    const source = await this.requireHost(requireMovable(vm));
    const target = await this.vms.placeElsewhere(vm, request.to);
    return (await this.measure(vm, source, target, request)).plan;
  }

  /** `POST /vms/{id}/migrate`: checks everything, marks the VM migrating, starts the operation. */
  async migrate(idOrName: string, request: MigrationRequest, project?: string): Promise<Operation> {
    const vm = await this.vms.get(idOrName, project);
    // Snapshots in a local disk and a linked clone's template link would not survive the move.
    await assertMovable(this.store, vm);
    await refuseLocalDataDisks(this.store, vm);
    if (vm.state === 'stopped') return this.migrateStopped(vm, request);
    const source = await this.requireHost(requireMovable(vm));
    const target = await this.vms.placeElsewhere(vm, request.to);
    if (target.state !== 'ready' || target.cordoned) {
      throw new DomainError(
        'MIGRATION_NOT_POSSIBLE',
        `host ${target.name} does not take VMs now (${target.cordoned ? 'cordoned' : target.state})`,
        { host: target.name },
      );
    }
    // Settings are checked here too, so that an illegal combination is a 4xx before anything moves.
    migrationSettings(
      request,
      this.defaults,
      this.rough(vm, request),
      undefined,
      noPostcopyReason(vm),
    );
    const before = vm.state as MigrationRecord['before'];
    // The version check makes this the one migration (or action) that wins for this VM.
    await this.store.vms.update(vm.id, { state: 'migrating', stateReason: null }, vm.version);
    try {
      return await this.operations.start(
        'vm.migrate',
        { type: 'vm', id: vm.id, name: vm.name, project: vm.project },
        (context) => this.work(vm, before, source, target, request, context),
      );
    } catch (error) {
      await this.store.vms.update(vm.id, { state: before }).catch(() => undefined);
      throw error;
    }
  }

  /**
   * A stopped VM moves cold (ADR 20): a local disk is copied by the target's qemu-storage-daemon
   * export and the source's mirror into it, checked, then the target takes the VM, the store moves
   * it, and only then the source's copy goes. On the shared pool only the record moves.
   */
  private async migrateStopped(vm: Vm, request: MigrationRequest): Promise<Operation> {
    if (vm.host === null) {
      throw new DomainError('MIGRATION_NOT_POSSIBLE', `VM '${vm.name}' is on no host`);
    }
    const source = await this.requireHost(vm.host);
    const target = await this.vms.placeElsewhere(vm, request.to);
    if (target.state !== 'ready' || target.cordoned) {
      throw new DomainError(
        'MIGRATION_NOT_POSSIBLE',
        `host ${target.name} does not take VMs now (${target.cordoned ? 'cordoned' : target.state})`,
        { host: target.name },
      );
    }
    await this.store.vms.update(vm.id, { state: 'migrating', stateReason: null }, vm.version);
    try {
      return await this.operations.start(
        'vm.migrate',
        { type: 'vm', id: vm.id, name: vm.name, project: vm.project },
        (context) => this.moveStopped(vm, source, target, request, context),
      );
    } catch (error) {
      await this.store.vms.update(vm.id, { state: 'stopped' }).catch(() => undefined);
      throw error;
    }
  }

  private async moveStopped(
    vm: Vm,
    sourceHost: Host,
    targetHost: Host,
    request: MigrationRequest,
    context: OperationContext,
  ): Promise<Record<string, unknown>> {
    const started = performance.now();
    const tls = request.tls ?? this.defaults.tls;
    const source = await this.agent(sourceHost.name);
    const target = await this.agent(targetHost.name);
    const spec = await this.vms.agentSpec({ ...vm, desiredState: 'stopped' });
    const local = vm.pool !== 'shared';
    await context.metadata({ from: sourceHost.name, to: targetHost.name, cold: true, tls });
    let copy: { copiedBytes?: number; allocatedBytes: number } | null = null;
    let registered = false;
    try {
      if (local) {
        await context.phase(PHASE.mirroring, 10);
        const nbd = await target.migrationDiskIncoming(vm.id, { spec, tls });
        copy = await source.migrationDiskOutgoing(vm.id, { nbd, tls, tlsHostname: nbd.host });
        const arrived = await target.migrationDiskDone(vm.id);
        // The mirror ended in sync; the two overlays must also hold the same allocation.
        if (arrived.allocatedBytes !== copy.allocatedBytes) {
          throw new DomainError(
            'MIGRATION_FAILED',
            `the copied disk holds ${arrived.allocatedBytes} allocated bytes on ${targetHost.name}, the original ${copy.allocatedBytes}`,
            { source: copy.allocatedBytes, target: arrived.allocatedBytes },
          );
        }
      }
      if (context.signal.aborted) throw cancelled('before the target took the VM');
      await context.phase(PHASE.switching, 90);
      context.refuseCancel('the target takes the VM');
      registered = true;
      await target.ensureVm(spec);
      await this.store.vms.update(vm.id, {
        hostId: targetHost.id,
        state: 'stopped',
        stateReason: null,
      });
    } catch (error) {
      const undo: string[] = [];
      if (registered) {
        await target.deleteVm(vm.id).then(
          () => undo.push(`the copy on ${targetHost.name} removed`),
          (e: unknown) =>
            undo.push(
              `removing the copy on ${targetHost.name} failed: ${toDomainError(e).message}`,
            ),
        );
      } else if (local) {
        await target.migrationAbort(vm.id).then(
          () => undo.push(`the disk copy on ${targetHost.name} removed`),
          (e: unknown) =>
            undo.push(
              `removing the disk copy on ${targetHost.name} failed: ${toDomainError(e).message}`,
            ),
        );
      }
      await this.store.vms.update(vm.id, { state: 'stopped' }).catch(() => undefined);
      undo.push(`VM ${vm.name} stays stopped on ${sourceHost.name}`);
      const reason = toDomainError(error);
      if (reason.code === 'OPERATION_CANCELLED') throw cancelled(undo.join('; '));
      throw new DomainError(
        'MIGRATION_FAILED',
        `${reason.message}; ${undo.join('; ')}`,
        reason.details,
      );
    }
    await context.phase(PHASE.finishing, 98);
    // Only now that the store names the target does the source's copy go.
    let sourceCleanup: string | null = null;
    await source.migrationComplete(vm.id).catch((error: unknown) => {
      sourceCleanup = toDomainError(error).message;
    });
    return {
      from: sourceHost.name,
      to: targetHost.name,
      cold: true,
      totalTimeMs: Math.round(performance.now() - started),
      ...(copy === null
        ? {}
        : { disk: { copiedBytes: copy.copiedBytes ?? null, allocatedBytes: copy.allocatedBytes } }),
      ...(sourceCleanup === null ? {} : { sourceCleanup }),
    };
  }

  /** A migrate operation a previous server left unfinished: watch it on, finish it or undo it. */
  recoveryPlans(): { 'vm.migrate': RecoveryPlan } {
    return {
      'vm.migrate': async (operation) => {
        const vm = await this.store.vms.get(undefined, operation.target.id);
        const record = operation.metadata as MigrationRecord | null;
        if (vm === undefined) return { rollback: () => Promise.resolve('the VM no longer exists') };
        if (record?.cold) return this.recoveryOfCold(vm, record);
        if (record === null || !record.uri) {
          // The stream never started: only a waiting target QEMU may exist.
          return { rollback: () => this.rollBack(vm, record, 'the stream had not started') };
        }
        return this.recoveryOf(vm, record, operation.phase);
      },
    };
  }

  /**
   * A cold move: once the store names the target only the source's copy may be left to remove;
   * before, the target's partial copy is removed and the VM stays stopped on the source.
   */
  private recoveryOfCold(vm: Vm, record: MigrationRecord): Recovery {
    if (vm.host === record.to) {
      return {
        resume: async () => {
          await (await this.agent(record.from)).migrationComplete(vm.id);
          return { from: record.from, to: record.to, cold: true };
        },
      };
    }
    return {
      rollback: async () => {
        const target = await this.agent(record.to).catch(() => null);
        await target?.migrationAbort(vm.id).catch(() => undefined);
        await this.store.vms.update(vm.id, { state: 'stopped' });
        return `the disk copy on ${record.to} removed; VM ${vm.name} stays stopped on ${record.from}`;
      },
    };
  }

  /**
   * Decides from what both hosts hold now (packages/migration `recoveryDecision`): keep watching a
   * stream QEMU is still running, finish when the target holds the guest, roll back when the
   * source does, wait while a host that may hold it does not answer, and otherwise mark the VM
   * error with the reason and touch nothing (no host, or both, hold a complete guest).
   */
  private recoveryOf(vm: Vm, record: MigrationRecord, phase: string): Recovery {
    if (vm.host === record.to) {
      // The record had moved: only the source's cleanup may be left.
      return { resume: (context) => this.finish(vm, record, context, null) };
    }
    const recordedPhase: MigrationPhase = isMigrationPhase(phase) ? phase : 'transferring';
    return {
      resume: async (context) => {
        const deadline = performance.now() + RECOVERY_WAIT_MS;
        for (;;) {
          const [source, target] = await Promise.all([
            this.hostReport(record.from, vm.id),
            this.hostReport(record.to, vm.id),
          ]);
          const decision = recoveryDecision(recordedPhase, sourceView(source), targetView(target));
          this.logger.warn({ vm: vm.id, ...decision }, 'recovering an interrupted migration');
          switch (decision.action) {
            case 'complete':
              return this.finish(vm, record, context, null);
            case 'resume':
              if (record.switched || targetView(target) === 'postcopy') {
                context.refuseCancel('the guest switched to post-copy');
              }
              return this.watchAfterRestart(vm, record, context);
            case 'rollback':
              throw new DomainError(
                'INTERRUPTED',
                `the server stopped during the migration (${decision.reason}); rolled back: ${await this.rollBack(vm, record, decision.reason)}`,
              );
            case 'wait':
              if (performance.now() < deadline) {
                await sleep(2_000);
                continue;
              }
              return this.flag(vm, `gave up waiting: ${decision.reason}`);
            case 'lost':
            case 'conflict':
              return this.flag(vm, decision.reason);
          }
        }
      },
    };
  }

  private async watchAfterRestart(vm: Vm, record: MigrationRecord, context: OperationContext) {
    const source = await this.agent(record.from);
    let current = record;
    try {
      return await this.watch(vm, record, source, context, (next) => {
        current = next;
      });
    } catch (error) {
      if (current.handedOff) throw error;
      // The switch to post-copy may have happened in this watch, after the restart.
      if (current.switched) return this.settleAfterSwitch(vm, current, context, error);
      throw new DomainError(
        'MIGRATION_FAILED',
        `${toDomainError(error).message}; ${await this.rollBack(vm, record, 'interrupted')}`,
      );
    }
  }

  /** Marks the VM error with why, changes nothing on the hosts, and fails the operation. */
  private async flag(vm: Vm, why: string): Promise<never> {
    await this.store.vms.update(vm.id, {
      state: 'error',
      stateReason: `interrupted migration needs an administrator: ${why}`,
    });
    throw new DomainError(
      'MIGRATION_FAILED',
      `the interrupted migration cannot be settled: ${why}`,
    );
  }

  /** What one host holds of the VM now, as the recovery decision reads it. */
  private async hostReport(hostName: string, vmId: string): Promise<HostReport> {
    try {
      const agent = await this.agent(hostName);
      const present = (await agent.listVms()).some((status) => status.id === vmId);
      if (!present) return { reachable: true, present: false };
      const migration = await agent.migrationStatus(vmId);
      return {
        reachable: true,
        present: true,
        runState: migration.runState ?? 'unknown',
        migration: migration.status,
      };
    } catch {
      return { reachable: false };
    }
  }

  private async work(
    vm: Vm,
    before: MigrationRecord['before'],
    sourceHost: Host,
    targetHost: Host,
    request: MigrationRequest,
    context: OperationContext,
  ): Promise<Record<string, unknown>> {
    await context.phase(PHASE.planning, 0);
    let record: MigrationRecord | null = null;
    try {
      const measured = await this.measure(vm, sourceHost, targetHost, request);
      const { settings, choice } = migrationSettings(
        request,
        this.defaults,
        measured.predictions,
        undefined,
        noPostcopyReason(vm),
      );
      const { from, to, predictions, planningTimeMs } = measured.plan;
      record = {
        from: sourceHost.name,
        to: targetHost.name,
        settings,
        before,
        plan: { from, to, predictions, planningTimeMs },
        reason: choice.reason,
        escalated: null,
      };
      await context.metadata({ ...record });
      if (context.signal.aborted) throw cancelled('while planning; nothing was moved');

      await context.phase(PHASE.preparing, 5);
      const source = await this.agent(sourceHost.name);
      const target = await this.agent(targetHost.name);
      const spec = await this.vms.agentSpec({ ...vm, desiredState: 'running' });
      const incoming = await target.migrationIncoming(vm.id, { spec, settings });
      if (context.signal.aborted) throw cancelled('before the stream started');
      if (incoming.nbd !== undefined) {
        // Recorded before the mirror starts, without the URI: a restart rolls back.
        record = { ...record, mirrored: true };
        await context.metadata({ ...record });
        await context.phase(PHASE.mirroring, 10);
        await source.migrationMirror(vm.id, {
          nbd: incoming.nbd,
          tls: settings.tls,
          tlsHostname: incoming.tlsHostname,
        });
        const mirrorStarted = performance.now();
        const mirroredBytes = await this.watchMirror(vm, record, source, context);
        record = {
          ...record,
          mirror: { mirroredBytes, mirrorMs: Math.round(performance.now() - mirrorStarted) },
        };
      }

      record = { ...record, uri: incoming.uri };
      await context.metadata({ ...record });
      await context.phase(PHASE.transferring, record.mirrored ? 50 : 10);
      await source.migrationOutgoing(vm.id, {
        uri: incoming.uri,
        tlsHostname: incoming.tlsHostname,
        settings,
      });
      return await this.watch(vm, record, source, context, (next) => {
        record = next;
      });
    } catch (error) {
      const reason = toDomainError(error);
      // After the hand-off the guest is the target's: finishOrRecover settled it, never undo.
      if (record?.handedOff) throw error;
      if (record?.switched) return this.settleAfterSwitch(vm, record, context, error);
      const undone = await this.rollBack(vm, record, reason.message).catch((undo: unknown) => {
        this.logger.error({ err: undo, vm: vm.id }, 'rolling back a migration failed');
        return `rolling back failed: ${toDomainError(undo).message}`;
      });
      if (reason.code === 'OPERATION_CANCELLED') throw cancelled(undone);
      throw new DomainError(
        isDomainError(error) && error.code === 'MIGRATION_FAILED'
          ? 'MIGRATION_FAILED'
          : reason.code,
        `${reason.message}; ${undone}`,
        reason.details,
      );
    }
  }

  /**
   * Reads the source's stream until QEMU completes it: progress out as events, a stall escalated
   * (throttle, post-copy) or given up, a cancel honoured until the post-copy switch.
   */
  private async watch(
    vm: Vm,
    record: MigrationRecord,
    source: AgentPort,
    context: OperationContext,
    recorded: (record: MigrationRecord) => void = () => undefined,
  ): Promise<Record<string, unknown>> {
    const predicted = record.plan.predictions.find((p) => p.strategy === record.settings.strategy);
    const { stallWindowMs } = this.defaults;
    const policy =
      stallWindowMs === undefined
        ? DEFAULT_STALL_POLICY
        : { ...DEFAULT_STALL_POLICY, windowMs: stallWindowMs };
    let stall: StallState = startStallWatch(
      record.settings,
      performance.now(),
      predicted === undefined ? policy : stallPolicyFor(predicted, policy),
    );
    let lastWrite = 0;
    let unreachableSince: number | null = null;
    for (;;) {
      let status: AgentMigrationStatus;
      try {
        status = await source.migrationStatus(vm.id);
        unreachableSince = null;
      } catch (error) {
        const now = performance.now();
        unreachableSince ??= now;
        if (now - unreachableSince < AGENT_GRACE_MS) {
          await sleep(POLL_MS * 5);
          continue;
        }
        // The source is gone: whichever side runs the guest now owns it.
        return this.settleWithoutSource(vm, record, context, error);
      }

      if (status.status === 'completed') {
        record = { ...record, handedOff: true };
        recorded(record);
        return this.finishOrRecover(vm, record, context, status);
      }
      if (record.mirrored && status.status === 'pre-switchover') {
        // The source is paused: end the mirror in sync, then let memory finish.
        await source.migrationSwitchover(vm.id);
        continue;
      }
      // Until the switch-over the mirror must stay in sync (it is gone after it).
      if (record.mirrored && (status.status === 'setup' || status.status === 'active')) {
        failedMirror(vm, status);
      }
      const observed = observeMigration(stall, status, performance.now());
      stall = observed.state;
      const { verdict } = observed;

      if (stall.inPostcopy) context.refuseCancel('the guest switched to post-copy');
      if (context.signal.aborted && !stall.inPostcopy && !stall.postcopyRequested) {
        throw cancelled('during the transfer');
      }

      if (verdict.action === 'give-up') {
        throw new DomainError(
          'MIGRATION_FAILED',
          `migration of ${vm.name} stopped: ${verdict.reason}`,
          {
            status: status.status,
          },
        );
      }
      if (verdict.action === 'escalate' && verdict.to === 'postcopy') {
        // Recorded first: after this call a cancel can no longer bring the guest back.
        context.refuseCancel('the guest switched to post-copy');
        record = {
          ...record,
          switched: true,
          escalated: verdict.planned ? (record.escalated ?? null) : 'postcopy',
        };
        recorded(record);
        await context.metadata({ ...record });
        await context.phase(PHASE.postcopy, operationProgress(status, record.mirrored));
        await source.migrationPostcopy(vm.id);
        this.logger.info({ vm: vm.id, reason: verdict.reason }, 'migration switched to post-copy');
      } else if (verdict.action === 'escalate') {
        record = { ...record, escalated: record.escalated ?? 'throttle' };
        recorded(record);
        await source.migrationTune(vm.id, { cpuThrottleIncrement: verdict.cpuThrottleIncrement });
        this.logger.info({ vm: vm.id, reason: verdict.reason }, 'migration throttle raised');
      }

      const phase = stall.inPostcopy ? PHASE.postcopy : PHASE.transferring;
      this.onProgress(
        vm,
        progressEvent(
          {
            operation: context.operationId,
            vm: vm.name,
            from: record.from,
            to: record.to,
            strategy: record.settings.strategy,
            phase,
          },
          status,
        ),
      );
      const now = performance.now();
      if (now - lastWrite >= PROGRESS_WRITE_MS) {
        lastWrite = now;
        await context.phase(phase, operationProgress(status, record.mirrored));
      }
      // A mirrored run waits paused at the switch-over until this loop sees it: look more often.
      await sleep(record.mirrored ? SWITCHOVER_POLL_MS : POLL_MS);
    }
  }

  /**
   * Shared-nothing: reads the source's disk mirror until it is in sync (READY), with progress out
   * as `mirroring` events; a failed mirror (e.g. the target's disk full) or a cancel throws, and
   * the caller rolls back (target QEMU and disk removed, the source keeps running the guest).
   */
  private async watchMirror(
    vm: Vm,
    record: MigrationRecord,
    source: AgentPort,
    context: OperationContext,
  ): Promise<number> {
    let lastWrite = 0;
    for (;;) {
      const status = await source.migrationStatus(vm.id);
      failedMirror(vm, status);
      const mirror = status.mirror;
      if (mirror?.ready) return mirror.doneBytes;
      if (context.signal.aborted) throw cancelled('while mirroring the disk');
      const done = mirror?.doneBytes ?? 0;
      const total = mirror?.totalBytes ?? 0;
      this.onProgress(vm, {
        operation: context.operationId,
        vm: vm.name,
        from: record.from,
        to: record.to,
        strategy: record.settings.strategy,
        phase: PHASE.mirroring,
        transferredBytes: done,
        remainingBytes: Math.max(0, total - done),
        totalBytes: total,
        dirtyRateBytes: 0,
        iteration: 0,
        expectedDowntimeMs: null,
      });
      const now = performance.now();
      if (now - lastWrite >= PROGRESS_WRITE_MS) {
        lastWrite = now;
        await context.phase(
          PHASE.mirroring,
          Math.round(10 + (total > 0 ? (40 * done) / total : 0)),
        );
      }
      await sleep(POLL_MS);
    }
  }

  /**
   * The source handed the guest over. Finishing needs the target's word; when it cannot be had
   * now (its agent restarting, the link down), the restart-recovery rules decide from what both
   * hosts report, waiting while one is silent, and never resume the source on a guess.
   */
  private async finishOrRecover(
    vm: Vm,
    record: MigrationRecord,
    context: OperationContext,
    final: AgentMigrationStatus,
  ): Promise<Record<string, unknown>> {
    try {
      return await this.finish(vm, record, context, final);
    } catch (error) {
      this.logger.warn({ vm: vm.id, err: error }, 'finishing a handed-off migration failed');
      const recovery = this.recoveryOf(vm, record, PHASE.switching);
      if (!('resume' in recovery)) throw error;
      return (await recovery.resume(context)) ?? { from: record.from, to: record.to };
    }
  }

  /**
   * QEMU completed: the target runs the guest. The record moves to the target (the one point after
   * which the target owns the VM), then the source's QEMU, paused in `postmigrate`, is let go.
   */
  private async finish(
    vm: Vm,
    record: MigrationRecord,
    context: OperationContext,
    final: AgentMigrationStatus | null,
  ): Promise<Record<string, unknown>> {
    context.refuseCancel('the guest already runs on the target');
    await context.phase(PHASE.switching, 96);
    const targetHost = await this.requireHost(record.to);
    const target = await this.agent(record.to);
    const observed = await waitForTarget(target, vm.id);
    if (observed === undefined || (observed.state !== 'running' && observed.state !== 'paused')) {
      throw new DomainError(
        'MIGRATION_FAILED',
        `QEMU reported the migration complete, but host ${record.to} reports the VM ${observed?.state ?? 'absent'}`,
        { host: record.to },
      );
    }
    await this.store.vms.update(vm.id, {
      hostId: targetHost.id,
      state: observed.state,
      stateReason: null,
    });
    await context.phase(PHASE.finishing, 98);
    // QEMU's figures live in the source's QEMU, which the clean-up quits: read them first.
    const final_ = final ?? (await this.finalStatus(vm.id, record));
    let sourceCleanup: string | null = null;
    try {
      await (await this.agent(record.from)).migrationComplete(vm.id);
    } catch (error) {
      // The source's QEMU is paused in postmigrate and never runs the guest again; say so.
      sourceCleanup = toDomainError(error).message;
      this.logger.warn({ vm: vm.id, host: record.from, err: error }, 'source cleanup failed');
    }
    const measured: Record<string, unknown> =
      final_ === null
        ? {
            from: record.from,
            to: record.to,
            strategy: record.settings.strategy,
            measured: `the source's QEMU was gone before its figures were read`,
          }
        : migrationResult(final_, record.plan, {
            strategy: record.settings.strategy,
            escalated: record.escalated ?? null,
            tls: record.settings.tls,
          });
    const result: Record<string, unknown> = {
      ...measured,
      ...(record.mirror === undefined ? {} : { disk: record.mirror }),
      reason: record.reason,
      ...(sourceCleanup === null ? {} : { sourceCleanup }),
    };
    return result;
  }

  /**
   * When the source can no longer be asked: the target's own reading says whether the guest
   * arrived; if it did, the migration is finished. Null when it did not (or cannot say).
   */
  private async finishIfArrived(
    vm: Vm,
    record: MigrationRecord,
    context: OperationContext,
  ): Promise<Record<string, unknown> | null> {
    const target = await this.agent(record.to).catch(() => null);
    const status = await target?.migrationStatus(vm.id).catch(() => null);
    return status?.status === 'completed' ? this.finish(vm, record, context, null) : null;
  }

  /**
   * Something failed after the post-copy switch: the source can no longer take the guest back, so
   * nothing is cancelled. Unless the target runs the guest, the VM is marked unknown with the
   * reason, for an operator (the post-copy risk, ADR 13).
   */
  private async settleAfterSwitch(
    vm: Vm,
    record: MigrationRecord,
    context: OperationContext,
    cause: unknown,
  ): Promise<Record<string, unknown>> {
    const finished = await this.finishIfArrived(vm, record, context);
    if (finished !== null) return finished;
    const why = toDomainError(cause).message;
    await this.store.vms
      .update(vm.id, {
        state: 'unknown',
        stateReason: `post-copy migration to ${record.to} failed after the switch: ${why}`,
      })
      .catch(() => undefined);
    throw new DomainError(
      'MIGRATION_FAILED',
      `the migration failed after its switch to post-copy (${why}); neither host holds a complete guest that can be resumed safely`,
      { from: record.from, to: record.to },
    );
  }

  /** The source stopped answering: the target decides (running there means QEMU completed). */
  private async settleWithoutSource(
    vm: Vm,
    record: MigrationRecord,
    context: OperationContext,
    cause: unknown,
  ): Promise<Record<string, unknown>> {
    const finished = await this.finishIfArrived(vm, record, context);
    if (finished !== null) return finished;
    throw new DomainError(
      'MIGRATION_FAILED',
      `host ${record.from} stopped answering during the migration (${toDomainError(cause).message})`,
      { host: record.from },
    );
  }

  /**
   * Undoes a migration that did not complete: the source's stream cancelled (its guest keeps
   * running), the target's waiting QEMU removed, the VM's state back from what the source reports.
   * Never touches a guest that switched to post-copy (the caller refuses that).
   */
  private async rollBack(vm: Vm, record: MigrationRecord | null, why: string): Promise<string> {
    const done: string[] = [];
    if (record !== null) {
      const source = await this.agent(record.from);
      await source.migrationAbort(vm.id).then(
        () => done.push(`stream from ${record.from} cancelled`),
        (error: unknown) =>
          done.push(`cancel on ${record.from} failed: ${toDomainError(error).message}`),
      );
      const target = await this.agent(record.to).catch(() => null);
      await target?.migrationAbort(vm.id).then(
        () => done.push(`waiting QEMU on ${record.to} removed`),
        (error: unknown) =>
          done.push(`cleanup on ${record.to} failed: ${toDomainError(error).message}`),
      );
    }
    const host = record?.from ?? vm.host;
    const observed =
      host === null
        ? undefined
        : await (
            await this.agent(host)
          )
            .listVms()
            .then((list) => list.find((s) => s.id === vm.id))
            .catch(() => undefined);
    const state = observed?.state === 'migrating' ? (record?.before ?? 'running') : observed?.state;
    await this.store.vms.update(vm.id, {
      state: state ?? 'unknown',
      stateReason:
        state === undefined ? `after a failed migration (${why}) its host did not answer` : null,
    });
    done.push(`VM ${vm.name} is ${state ?? 'unknown'} on ${host ?? 'no host'}`);
    return done.join('; ');
  }

  /** The source's last reading of a completed stream, when its QEMU still answers. */
  private async finalStatus(
    vmId: string,
    record: MigrationRecord,
  ): Promise<AgentMigrationStatus | null> {
    const source = await this.agent(record.from).catch(() => null);
    const status = await source?.migrationStatus(vmId).catch(() => null);
    return status?.status === 'completed' ? status : null;
  }

  /** Measures the guest's dirty rate on the source and predicts every strategy. */
  private async measure(
    vm: Vm,
    source: Host,
    target: Host,
    limits: MigrationPlanRequest,
  ): Promise<{ plan: MigrationPlan; predictions: Prediction[] }> {
    const started = performance.now();
    const agent = await this.agent(source.name);
    // A paused guest is not measured by the agent (it dirties nothing); a local disk is sized.
    const measured = await agent.dirtyRate(vm.id, { seconds: DIRTY_RATE_SECONDS });
    const { maxBandwidthBytes, maxDowntimeMs } = resolveLimits(limits, this.defaults);
    const memoryBytes = vm.memoryMiB * MiB;
    const predictions = predict({
      memoryBytes,
      dirtyRateBytes: measured.dirtyRateBytes,
      bandwidthBytes: maxBandwidthBytes,
      maxDowntimeMs,
      ...(measured.dataBytes === undefined
        ? {}
        : { zeroPageFraction: 1 - Math.min(1, measured.dataBytes / memoryBytes) }),
    });
    const planningTimeMs = performance.now() - started;
    const chosen = migrationSettings(
      {},
      this.defaults,
      predictions,
      undefined,
      noPostcopyReason(vm),
    ).settings.strategy;
    const disk =
      measured.diskBytes === undefined
        ? null
        : {
            allocatedBytes: measured.diskBytes,
            predictedMs: (measured.diskBytes / maxBandwidthBytes) * 1000,
          };
    return {
      predictions,
      plan: {
        vm: vm.name,
        from: source.name,
        to: target.name,
        memoryBytes,
        dirtyRateBytes: measured.dirtyRateBytes,
        bandwidthBytes: maxBandwidthBytes,
        maxDowntimeMs,
        predictions: predictions.map(toWirePrediction),
        disk,
        chosen,
        planningTimeMs,
      },
    };
  }

  /** Predictions without a measurement, only to validate a request's combination up front. */
  private rough(vm: Vm, request: MigrationRequest): Prediction[] {
    const { maxBandwidthBytes, maxDowntimeMs } = resolveLimits(request, this.defaults);
    return predict({
      memoryBytes: vm.memoryMiB * MiB,
      dirtyRateBytes: 0,
      bandwidthBytes: maxBandwidthBytes,
      maxDowntimeMs,
    });
  }

  private async agent(hostName: string): Promise<AgentPort> {
    return (await this.hosts.agentOf(hostName)).agent;
  }

  private async requireHost(name: string): Promise<Host> {
    const host = await this.store.hosts.get(name);
    if (host === undefined) throw new DomainError('HOST_NOT_FOUND', `host '${name}' not found`);
    return host;
  }
}

/** A VM can move when it runs (or is paused) on a host and its disk is on shared storage. */
function requireMovable(vm: Vm): string {
  if (vm.state !== 'running' && vm.state !== 'paused') {
    throw new DomainError(
      'VM_INVALID_STATE',
      `VM '${vm.name}' is ${vm.state}: only a running or paused VM migrates live`,
      { state: vm.state },
    );
  }
  if (vm.host === null) {
    throw new DomainError('MIGRATION_NOT_POSSIBLE', `VM '${vm.name}' is on no host`);
  }
  return vm.host;
}

/**
 * Why post-copy is not offered for this VM, if it is not: a local disk is mirrored first, and the
 * mirror must end in sync while the source still holds the whole guest (ADR 20).
 */
function noPostcopyReason(vm: Vm): string | undefined {
  return vm.pool === 'shared'
    ? undefined
    : 'the VM keeps its disk in the local pool, which moves by mirror before the switch-over (ADR 20); use precopy or autoconverge';
}

/** A mirror that failed (or vanished) ends the migration with QEMU's reason. */
function failedMirror(vm: Vm, status: AgentMigrationStatus): void {
  const mirror = status.mirror;
  if (mirror === undefined || mirror.error !== undefined || mirror.status === 'concluded') {
    throw new DomainError(
      'MIGRATION_FAILED',
      `the disk mirror of ${vm.name} failed: ${mirror?.error ?? (mirror === undefined ? 'the mirror job is gone' : mirror.status)}`,
      { mirror: mirror ?? null },
    );
  }
}

/** The target's view of the VM once its QEMU left the incoming state (it loads device state last). */
async function waitForTarget(target: AgentPort, vmId: string) {
  const deadline = performance.now() + 10_000;
  for (;;) {
    // Its own reading first: the agent learns there that the stream completed.
    await target.migrationStatus(vmId).catch(() => undefined);
    const observed = (await target.listVms()).find((s) => s.id === vmId);
    if (observed?.state !== 'migrating' || performance.now() > deadline) return observed;
    await sleep(POLL_MS / 4);
  }
}

/**
 * The operation's percent: the stream's share done, between the set-up's 10 (50 after a disk
 * mirror, which takes 10 to 50) and the switch's 95.
 */
function operationProgress(status: AgentMigrationStatus, mirrored = false): number {
  const from = mirrored ? 50 : 10;
  return Math.round(from + ((95 - from) / 100) * (progressPercent(status) ?? 0));
}
