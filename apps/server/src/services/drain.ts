import type { Host, Operation, Vm } from '@novacron/api';
import { DomainError, isDomainError } from '@novacron/domain';
import type { Store } from '@novacron/store';
import type { Logger } from '@novacron/telemetry';
import { toDomainError } from '../errors.js';
import type { MigrationService } from './migrations.js';
import type { OperationContext, OperationRunner, RecoveryPlan } from './operations.js';
import { cpuModelOf, type SchedulerService } from './scheduler.js';

/** VMs moved at once by one drain. */
export const DEFAULT_DRAIN_CONCURRENCY = 2;
/** How long a drain waits for one VM's migration operation. */
const MIGRATION_WAIT_MS = 30 * 60 * 1000;

/** What became of one VM of a drained host, as the drain operation records it. */
export interface DrainedVm {
  vm: string;
  name: string;
  status: 'pending' | 'moving' | 'moved' | 'failed';
  to?: string;
  operation?: string;
  reason?: string;
}

/**
 * `novacron host drain`: marks the host in maintenance (no new VMs), then moves every VM off it
 * through MigrationService (live for a running VM), a few at a time, to targets the scheduler
 * chooses by each VM's own rules. A VM that cannot move is reported with the reason and stays;
 * the drain then ends failed (partial), never forcing anything. The operation records each VM's
 * progress in its metadata; after a server restart it resumes from what is still on the host.
 */
export class DrainService {
  constructor(
    private readonly store: Store,
    private readonly migrations: MigrationService,
    private readonly scheduler: SchedulerService,
    private readonly operations: OperationRunner,
    private readonly logger: Logger,
    private readonly concurrency = DEFAULT_DRAIN_CONCURRENCY,
  ) {}

  async drain(idOrName: string): Promise<Operation> {
    const host = await this.requireHost(idOrName);
    const marked = (await this.store.hosts.patch(host.id, { maintenance: true })) ?? host;
    return this.operations.start(
      'host.drain',
      { type: 'host', id: host.id, name: host.name, project: null },
      (context) => this.work(marked, context),
    );
  }

  /** A drain a previous server left unfinished goes on from what is still on the host. */
  recoveryPlans(): { 'host.drain': RecoveryPlan } {
    return {
      'host.drain': async (operation) => {
        const host = await this.store.hosts.get(operation.target.id);
        if (host === undefined) {
          return { rollback: () => Promise.resolve('the host no longer exists') };
        }
        return { resume: (context) => this.work(host, context) };
      },
    };
  }

  private async work(host: Host, context: OperationContext): Promise<Record<string, unknown>> {
    const vms = await this.vmsOn(host);
    const records = new Map<string, DrainedVm>(
      vms.map((vm) => [vm.id, { vm: vm.id, name: vm.name, status: 'pending' }]),
    );
    const save = async () => {
      const all = [...records.values()];
      const done = all.filter((r) => r.status === 'moved' || r.status === 'failed').length;
      await context.metadata({ host: host.name, vms: all });
      await context.phase(
        `moving VMs (${done} of ${all.length} done)`,
        all.length === 0 ? 100 : Math.round((done / all.length) * 100),
      );
    };
    await save();

    // Targets for all at once, so that VMs moving side by side do not pick the same last slot.
    const plans = await this.scheduler.planMoves(
      vms.map((vm) => {
        const live = vm.state === 'running' || vm.state === 'paused';
        const cpuModel = live ? cpuModelOf(host) : undefined;
        return {
          project: vm.project,
          size: { cpus: vm.cpus, memoryMiB: vm.memoryMiB, diskGiB: vm.diskGiB },
          placement: vm.placement,
          vmId: vm.id,
          excludeHosts: [host.id],
          ...(cpuModel !== undefined && { cpuModel }),
        };
      }),
    );
    const queue = vms.map((vm, i) => ({ vm, plan: plans[i] }));
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const record = records.get(next.vm.id) as DrainedVm;
        if (context.signal.aborted) {
          record.status = 'failed';
          record.reason = 'the drain was cancelled before this VM moved';
          continue;
        }
        const { plan } = next;
        if (plan === undefined || plan instanceof DomainError) {
          record.status = 'failed';
          record.reason = plan?.message ?? 'no target';
          await save();
          continue;
        }
        await this.move(next.vm, plan.host, record, save);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.concurrency) }, worker));
    await save();

    const all = [...records.values()];
    const failed = all.filter((r) => r.status !== 'moved');
    const moved = all.length - failed.length;
    if (failed.length > 0) {
      const why = failed.map((r) => `${r.name}: ${r.reason ?? r.status}`).join('; ');
      throw new DomainError(
        'MIGRATION_FAILED',
        `drain of ${host.name} ended partial: ${moved} of ${all.length} VMs moved; ${why}`,
        { host: host.name, vms: all },
      );
    }
    return { host: host.name, moved, vms: all };
  }

  /** Moves one VM (or follows its migration already under way after a restart). */
  private async move(
    vm: Vm,
    target: Host,
    record: DrainedVm,
    save: () => Promise<void>,
  ): Promise<void> {
    record.status = 'moving';
    record.to = target.name;
    try {
      const current = await this.store.vms.get(undefined, vm.id);
      if (current === undefined || current.host !== vm.host) {
        record.status = current === undefined ? 'failed' : 'moved';
        if (current === undefined) record.reason = 'the VM was deleted';
        else record.to = current.host ?? target.name;
        return;
      }
      const operation =
        current.state === 'migrating'
          ? await this.migrationUnderWay(current.id)
          : await this.migrations.migrate(current.id, { to: target.id });
      if (operation === undefined) throw new Error('its migration operation was not found');
      record.operation = operation.id;
      await save();
      const ended = await this.operations.wait(operation.id, MIGRATION_WAIT_MS);
      if (ended?.status === 'succeeded') {
        record.status = 'moved';
      } else {
        record.status = 'failed';
        record.reason =
          ended?.error?.message ?? `migration ${operation.id} is still ${ended?.status ?? 'gone'}`;
      }
    } catch (error) {
      record.status = 'failed';
      record.reason = isDomainError(error) ? error.message : toDomainError(error).message;
      this.logger.warn({ vm: vm.id, err: error }, 'drain: VM not moved');
    } finally {
      await save().catch(() => undefined);
    }
  }

  private async migrationUnderWay(vmId: string): Promise<Operation | undefined> {
    const page = await this.store.operations.list({ kind: 'vm.migrate', target: vmId, limit: 1 });
    return page.items[0];
  }

  private async vmsOn(host: Host): Promise<Vm[]> {
    const vms: Vm[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.vms.list({
        host: host.id,
        limit: 1000,
        ...(cursor === undefined ? {} : { cursor }),
      });
      vms.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return vms;
  }

  private async requireHost(idOrName: string): Promise<Host> {
    const host = await this.store.hosts.get(idOrName);
    if (host === undefined) {
      throw new DomainError('HOST_NOT_FOUND', `host '${idOrName}' not found`, {
        host: idOrName,
      });
    }
    return host;
  }
}
