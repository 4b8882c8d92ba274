import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  AgentDirtyRateRequest,
  AgentDiskIncomingRequest,
  AgentIncomingRequest,
  AgentMigrationStatus,
  AgentMigrationTuning,
  AgentOutgoingRequest,
  AgentVmSpec,
  AgentVmStateChange,
  AgentVmStatus,
} from '@novacron/api';
import { defaultHardware } from '@novacron/api';
import { AccessTokens, hashPassword, newSigningSecret } from '@novacron/auth';
import { DomainError } from '@novacron/domain';
import { openSqliteTestStore, systemClock, type Store, type TestStore } from '@novacron/store';
import { createLogger } from '@novacron/telemetry';
import type { AgentPort } from './agents/agent-client.js';
import { buildApp, type AppLimits } from './app.js';
import type { ServerApp } from './deps.js';
import { openSecondFactors } from './services/second-factor.js';
import { serverMetricsOf } from './services/server-metrics.js';
import { HostService } from './services/hosts.js';
import { OperationRunner } from './services/operations.js';
import { VmService } from './services/vms.js';
import { ImageService } from './services/images.js';
import { LiveEvents } from './services/live-events.js';
import { MetricsService } from './services/metrics.js';

// Unit-test support for the layers above the agent: a fake agent and an app on a SQLite store.
// Never used on a user path.

/** A stand-in for one host's agent: records what it is asked; `hold` blocks calls until released. */
export class FakeAgent implements AgentPort {
  readonly calls: string[] = [];
  readonly specs = new Map<string, AgentVmSpec>();
  readonly vms = new Map<string, AgentVmStatus>();
  private held: { promise: Promise<void>; release: () => void } | undefined;
  /** While true, every call fails as a host that does not answer. */
  unreachable = false;
  /** Resolves when a call reaches the agent while it is held. */
  private arrived: (() => void) | undefined;

  constructor(readonly name = 'h1') {}

  /** Makes every later call wait until `release()`; resolves once a call is waiting. */
  hold(): Promise<void> {
    let release = () => {};
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.held = { promise, release };
    return new Promise((resolve) => (this.arrived = resolve));
  }

  release(): void {
    const held = this.held;
    this.held = undefined;
    held?.release();
  }

  hostInfo() {
    return Promise.resolve({
      name: this.name,
      cpus: 2,
      memoryMiB: 4096,
      accelerator: 'tcg' as const,
      acceleratorReason: 'no /dev/kvm',
      qemuVersion: '7.2.0',
    });
  }

  listVms() {
    if (this.unreachable) return Promise.reject(this.down());
    return Promise.resolve([...this.vms.values()]);
  }

  async ensureVm(spec: AgentVmSpec) {
    this.calls.push(`ensure ${spec.name} ${spec.desiredState} ${spec.cpus}/${spec.memoryMiB}`);
    await this.gate();
    this.specs.set(spec.id, spec);
    const status: AgentVmStatus = {
      id: spec.id,
      state: spec.desiredState === 'running' ? 'running' : 'stopped',
      pid: spec.desiredState === 'running' ? 42 : null,
      reason: null,
    };
    this.vms.set(spec.id, status);
    return status;
  }

  async changeState(id: string, change: AgentVmStateChange) {
    this.calls.push(`${change.action} ${this.specs.get(id)?.name ?? id}`);
    await this.gate();
    const state =
      change.action === 'stop' ? 'stopped' : change.action === 'pause' ? 'paused' : 'running';
    const status: AgentVmStatus = { id, state, pid: state === 'stopped' ? null : 42, reason: null };
    this.vms.set(id, status);
    return status;
  }

  /** Like a host: CPUs and memory added to a running VM become CPU devices and DIMMs. */
  async applyHardware(spec: AgentVmSpec) {
    const hardware = spec.hardware ?? defaultHardware(spec);
    this.calls.push(
      `hardware ${spec.name} ${spec.cpus}/${spec.memoryMiB}/${spec.diskGiB} ${hardware.disks.map((d) => d.name).join(',')}${hardware.nics.map((n) => ` ${n.name}`).join('')}`,
    );
    await this.gate();
    const before = this.specs.get(spec.id) ?? spec;
    const status = this.vms.get(spec.id) ?? {
      id: spec.id,
      state: 'stopped',
      pid: null,
      reason: null,
    };
    const live = status.state === 'running';
    const addedMemory = spec.memoryMiB - before.memoryMiB;
    const applied = live
      ? {
          ...hardware,
          hotCpus: hardware.hotCpus + spec.cpus - before.cpus,
          dimmsMiB: addedMemory > 0 ? [...hardware.dimmsMiB, addedMemory] : hardware.dimmsMiB,
        }
      : hardware;
    this.specs.set(spec.id, { ...spec, hardware: applied });
    return { status, live, hardware: applied };
  }

  async deleteVm(id: string) {
    this.calls.push(`delete ${this.specs.get(id)?.name ?? id}`);
    await this.gate();
    this.vms.delete(id);
    this.specs.delete(id);
  }

  consoleOutput() {
    return Promise.resolve('NOVACRON-GUEST-READY\n');
  }

  /**
   * Migrations in memory: what the next status read answers, per VM (a test may set it). A source
   * answers `active` to outgoing and `completed` afterwards; a target reports `migrating` until a
   * status read sees `completed`, then `running`.
   */
  readonly migrations = new Map<string, AgentMigrationStatus>();
  /** What dirtyRate answers, bytes/s. */
  dirtyRateBytes = 8 * 1024 * 1024;
  private readonly postcopyReady = new Set<string>();

  async migrationIncoming(id: string, request: AgentIncomingRequest) {
    this.calls.push(`incoming ${request.spec.name}`);
    await this.gate();
    this.specs.set(id, request.spec);
    this.vms.set(id, { id, state: 'migrating', pid: 43, reason: null });
    this.migrations.set(id, { status: 'completed' });
    // A local disk is exported for the source's mirror.
    const nbd =
      request.spec.pool === 'shared'
        ? {}
        : { nbd: { host: '127.0.0.1', port: 10809, export: 'disk0' } };
    return { uri: 'tcp:127.0.0.1:49152', tlsHostname: '127.0.0.1', ...nbd };
  }

  async migrationOutgoing(id: string, request: AgentOutgoingRequest) {
    this.calls.push(`outgoing ${this.specs.get(id)?.name ?? id} ${request.uri}`);
    await this.gate();
    if (request.settings.postcopyReady || request.settings.strategy === 'postcopy') {
      this.postcopyReady.add(id);
    }
    this.vms.set(id, { id, state: 'migrating', pid: 42, reason: null });
    this.migrations.set(id, {
      status: 'completed',
      totalTimeMs: 700,
      downtimeMs: 3,
      setupTimeMs: 2,
      transferredBytes: 64 * 1024 * 1024,
      remainingBytes: 0,
      totalBytes: 256 * 1024 * 1024,
    });
    return { status: 'active' as const };
  }

  async migrationStatus(id: string) {
    await this.gate();
    const status = this.migrations.get(id) ?? { status: 'none' as const };
    const vm = this.vms.get(id);
    // The target's guest resumes once its side has completed.
    if (status.status === 'completed' && vm?.pid === 43) vm.state = 'running';
    return status;
  }

  async migrationTune(id: string, tuning: AgentMigrationTuning) {
    this.calls.push(`tune ${this.specs.get(id)?.name ?? id} ${JSON.stringify(tuning)}`);
    await this.gate();
    return this.migrations.get(id) ?? { status: 'none' as const };
  }

  async migrationPostcopy(id: string) {
    this.calls.push(`postcopy ${this.specs.get(id)?.name ?? id}`);
    await this.gate();
    if (!this.postcopyReady.has(id)) {
      throw new DomainError('VM_INVALID_STATE', `migration of ${id} started without postcopy-ram`);
    }
    return { status: 'postcopy-active' as const };
  }

  /** Shared-nothing: the mirror is in sync at once; the switch-over completes the stream. */
  async migrationMirror(id: string) {
    this.calls.push(`mirror ${this.specs.get(id)?.name ?? id}`);
    await this.gate();
    const mirror = { status: 'ready', ready: true, doneBytes: 1024, totalBytes: 1024 };
    this.migrations.set(id, { status: 'none', mirror });
    return { status: 'none' as const, mirror };
  }

  async migrationSwitchover(id: string) {
    this.calls.push(`switchover ${this.specs.get(id)?.name ?? id}`);
    await this.gate();
    return this.migrations.get(id) ?? { status: 'none' as const };
  }

  /** Cold migration: the copy is whole at once; both sides report the same allocation. */
  async migrationDiskIncoming(id: string, request: AgentDiskIncomingRequest) {
    this.calls.push(`disk-incoming ${request.spec.name}`);
    await this.gate();
    this.specs.set(id, request.spec);
    return { host: '127.0.0.1', port: 10809, export: 'disk0' };
  }

  async migrationDiskOutgoing(id: string) {
    this.calls.push(`disk-outgoing ${this.specs.get(id)?.name ?? id}`);
    await this.gate();
    return { allocatedBytes: 8 * 1024 * 1024, copiedBytes: 8 * 1024 * 1024 };
  }

  async migrationDiskDone(id: string) {
    this.calls.push(`disk-done ${this.specs.get(id)?.name ?? id}`);
    await this.gate();
    return { allocatedBytes: 8 * 1024 * 1024 };
  }

  async migrationAbort(id: string) {
    this.calls.push(`abort ${this.specs.get(id)?.name ?? id}`);
    await this.gate();
    const vm = this.vms.get(id);
    this.migrations.delete(id);
    if (vm?.pid === 43) {
      // The target forgets the VM it was receiving.
      this.vms.delete(id);
      this.specs.delete(id);
    } else if (vm) {
      vm.state = 'running';
    }
    return { status: vm ? ('cancelled' as const) : ('none' as const) };
  }

  async migrationComplete(id: string) {
    this.calls.push(`complete ${this.specs.get(id)?.name ?? id}`);
    await this.gate();
    this.vms.delete(id);
    this.specs.delete(id);
    this.migrations.delete(id);
  }

  async dirtyRate(id: string, request: AgentDirtyRateRequest) {
    this.calls.push(`dirty-rate ${this.specs.get(id)?.name ?? id}`);
    await this.gate();
    const local = this.specs.get(id)?.pool === 'local';
    return {
      dirtyRateBytes: this.dirtyRateBytes,
      measuredSeconds: request.seconds,
      ...(local ? { diskBytes: 8 * 1024 * 1024 } : {}),
    };
  }

  private down(): DomainError {
    return new DomainError('HOST_UNREACHABLE', `host ${this.name} did not answer`, {
      host: this.name,
    });
  }

  private async gate(): Promise<void> {
    if (this.unreachable) throw this.down();
    const held = this.held;
    if (held === undefined) return;
    this.arrived?.();
    this.arrived = undefined;
    await held.promise;
  }
}

export interface TestServer {
  app: ServerApp;
  store: Store;
  agent: FakeAgent;
  hosts: HostService;
  operations: OperationRunner;
  vms: VmService;
  /** Metrics kept from heartbeats (tests record samples straight into it). */
  metrics: MetricsService;
  /** The live-event bus the event stream delivers from. */
  live: LiveEvents;
  /** The image store folder (a temporary one). */
  imageDir: string;
  /** `authorization` header of a logged-in admin. */
  auth: { authorization: string };
  /** Builds the services again over the same store, as a restarted server would. */
  restart(agent?: FakeAgent): Promise<TestServer>;
  close(): Promise<void>;
}

/**
 * The server's app over a fresh SQLite store, with one host `h1` whose agent is a FakeAgent, an
 * admin user and a ready `tiny` image.
 */
export async function startTestServer(
  options: { limits?: AppLimits; agent?: FakeAgent } = {},
): Promise<TestServer> {
  const testStore = await openSqliteTestStore();
  const { store } = testStore;
  const agent = options.agent ?? new FakeAgent();
  await store.hosts.upsert({
    name: agent.name,
    agentUrl: 'https://127.0.0.1:1',
    cpus: 2,
    memoryMiB: 4096,
    accelerator: 'tcg',
    acceleratorReason: 'no /dev/kvm',
    qemuVersion: '7.2.0',
  });
  await store.users.create({
    username: 'admin',
    passwordHash: await hashPassword('pw-123456'),
    role: 'admin',
  });
  await store.images.create({
    name: 'tiny',
    project: 'default',
    kind: 'kernel',
    status: 'ready',
    builtin: true,
    sizeBytes: 1,
    defaultKernelArgs: '',
    sha256: 'x',
  });
  const tokens = new AccessTokens(newSigningSecret());
  const imageDir = await mkdtemp(join(tmpdir(), 'nc-images-'));
  const server = await assemble(testStore, tokens, agent, options.limits, imageDir);
  return server;
}

async function assemble(
  testStore: TestStore,
  tokens: AccessTokens,
  agent: FakeAgent,
  limits: AppLimits | undefined,
  imageDir: string,
): Promise<TestServer> {
  const { store } = testStore;
  const logger = createLogger({ level: 'silent' });
  const hosts = new HostService(store, systemClock, logger, () => agent);
  const operations = new OperationRunner(store, systemClock, logger);
  const vms = new VmService(store, hosts, operations);
  const metrics = new MetricsService();
  const live = new LiveEvents(systemClock, logger);
  const app = buildApp(
    {
      store,
      tokens,
      clock: systemClock,
      logger,
      hosts,
      operations,
      vms,
      images: new ImageService(store, operations, imageDir),
      metrics,
      live,
      secondFactors: await openSecondFactors(store, newSigningSecret(), systemClock, false),
      serverMetrics: serverMetricsOf(store).registry,
    },
    limits,
  );
  const login = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username: 'admin', password: 'pw-123456' },
  });
  const auth = { authorization: `Bearer ${login.json<{ accessToken: string }>().accessToken}` };
  let closed = false;
  const stop = async () => {
    if (closed) return;
    closed = true;
    await app.close();
  };
  return {
    app,
    store,
    agent,
    hosts,
    operations,
    vms,
    metrics,
    live,
    imageDir,
    auth,
    // The old services are dropped without waiting for their work, as in a crash.
    async restart(next = agent) {
      await stop();
      return assemble(testStore, tokens, next, limits, imageDir);
    },
    async close() {
      await stop();
      agent.release();
      await operations.close();
      await testStore.cleanup();
      await rm(imageDir, { recursive: true, force: true });
    },
  };
}
