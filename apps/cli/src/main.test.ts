import { describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import type {
  Host,
  HostPatch,
  Image,
  Operation,
  OperationListQuery,
  Vm,
  VmListQuery,
  VmPatch,
} from '@novacron/api';
import { mergeLabels } from '@novacron/domain';
import { NovaCronApiError } from '@novacron/client';
import { loadConfig } from '@novacron/config';
import type { CliClient, CliDeps } from './context.js';
import { serverKey, type CredentialStore, type StoredCredentials } from './credentials.js';
import { run } from './main.js';

const SERVER = 'http://server:8090';

// `up` and `down` hand over to the embedded server and agent; here only the hand-over is checked.
const embedded = vi.hoisted(() => ({
  runUp: vi.fn((_opts: unknown) => Promise.resolve()),
  runDown: vi.fn((_opts: unknown) => Promise.resolve()),
}));
vi.mock('./embedded.js', () => embedded);

function vm(name: string, extra: Partial<Vm> = {}): Vm {
  return {
    id: `vm-${name}`,
    name,
    project: 'default',
    state: 'running',
    desiredState: 'running',
    host: 'host-a',
    image: 'tiny',
    imageId: 'i1',
    description: '',
    cpus: 1,
    memoryMiB: 256,
    diskGiB: 2,
    kernelArgs: '',
    labels: {},
    stateReason: null,
    restartPolicy: 'never',
    pool: 'local',
    placement: {},
    restarts: 0,
    lastRestartAt: null,
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

function operation(extra: Partial<Operation> = {}): Operation {
  return {
    id: 'op-1',
    kind: 'vm.create',
    status: 'pending',
    phase: 'queued',
    progress: 0,
    target: { type: 'vm', id: 'vm-demo', name: 'demo' },
    result: null,
    metadata: null,
    error: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

const host: Host = {
  id: 'h1',
  name: 'host-a',
  agentUrl: 'https://10.0.0.2:8094',
  state: 'ready',
  cpus: 8,
  memoryMiB: 16384,
  accelerator: 'tcg',
  acceleratorReason: 'KVM probe guest did not boot',
  qemuVersion: '7.2.0',
  labels: {},
  cordoned: false,
  maintenance: false,
  lastHeartbeatAt: '2026-01-01T00:00:00.000Z',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

const image: Image = {
  id: 'i1',
  name: 'tiny',
  project: 'default',
  kind: 'kernel',
  status: 'ready',
  builtin: true,
  sizeBytes: 12 * 1024 * 1024,
  defaultKernelArgs: 'console=ttyS0',
  sha256: 'ab'.repeat(32),
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

function notFound(name: string): Promise<never> {
  return Promise.reject(
    new NovaCronApiError(404, 'VM_NOT_FOUND', `vm '${name}' not found`, { vm: name }, 'req-1'),
  );
}

/**
 * A fake of the client, the layer below the CLI: answers like the server would, two VMs split
 * over two pages, and records what it was asked.
 */
function fakeClient(options: { waitStatuses?: Operation[] } = {}) {
  const vms = [vm('demo'), vm('web', { state: 'stopped', host: null, memoryMiB: 2048 })];
  const waits = [...(options.waitStatuses ?? [])];
  const client = {
    login: vi.fn((username: string, password: string) =>
      password === 'secret'
        ? Promise.resolve({
            accessToken: `token-of-${username}`,
            refreshToken: 'r',
            expiresAt: 'soon',
          })
        : Promise.reject(
            new NovaCronApiError(401, 'INVALID_CREDENTIALS', 'wrong username or password'),
          ),
    ),
    vms: {
      create: vi.fn(() => Promise.resolve(operation())),
      createSnapshot: vi.fn(() => Promise.resolve(operation({ kind: 'vm.snapshot' }))),
      listSnapshots: vi.fn(() => Promise.resolve({ items: [] })),
      revertSnapshot: vi.fn(() => Promise.resolve(operation({ kind: 'vm.snapshot.revert' }))),
      deleteSnapshot: vi.fn(() => Promise.resolve(operation({ kind: 'vm.snapshot.delete' }))),
      clone: vi.fn(() => Promise.resolve(operation({ kind: 'vm.clone' }))),
      markTemplate: vi.fn((name: string) => Promise.resolve(vm(name, { template: true }))),
      list: vi.fn((query: VmListQuery = {}) =>
        Promise.resolve(
          query.cursor === undefined
            ? { items: vms.slice(0, 1), nextCursor: 'page-2' }
            : { items: vms.slice(1), nextCursor: null },
        ),
      ),
      get: vi.fn((name: string) => {
        const found = vms.find((v) => v.name === name || v.id === name);
        return found ? Promise.resolve(found) : notFound(name);
      }),
      action: vi.fn(() => Promise.resolve(operation({ kind: 'vm.stop' }))),
      delete: vi.fn(() => Promise.resolve(operation({ kind: 'vm.delete' }))),
      migrate: vi.fn(() => Promise.resolve(operation({ kind: 'vm.migrate' }))),
      resize: vi.fn(() => Promise.resolve(operation({ kind: 'vm.resize' }))),
      addDisk: vi.fn(() => Promise.resolve(operation({ kind: 'vm.device.add' }))),
      removeDisk: vi.fn(() => Promise.resolve(operation({ kind: 'vm.device.remove' }))),
      addNic: vi.fn(() => Promise.resolve(operation({ kind: 'vm.device.add' }))),
      removeNic: vi.fn(() => Promise.resolve(operation({ kind: 'vm.device.remove' }))),
      hardware: vi.fn((name: string) =>
        Promise.resolve({
          vm: name,
          cpus: 2,
          maxCpus: 4,
          memoryMiB: 384,
          maxMemoryMiB: 1024,
          diskGiB: 2,
          disks: [{ name: 'disk1', sizeGiB: 1, slot: 0 }],
          nics: [{ name: 'net1', mac: '52:54:00:01:02:03', slot: 1 }],
          hotCpus: 1,
          dimmsMiB: [128],
        }),
      ),
      migrationPlan: vi.fn(() =>
        Promise.resolve({
          vm: 'web',
          from: 'h1',
          to: 'h2',
          memoryBytes: 256 * 1024 * 1024,
          dirtyRateBytes: 60 * 1024 * 1024,
          bandwidthBytes: 32 * 1024 * 1024,
          maxDowntimeMs: 300,
          predictions: [
            {
              strategy: 'precopy' as const,
              converges: false,
              totalTimeMs: null,
              downtimeMs: null,
              reason: 'dirty rate above the link',
            },
            {
              strategy: 'postcopy' as const,
              converges: true,
              totalTimeMs: 8100,
              downtimeMs: 5,
              reason: 'one pass then fetch on fault',
            },
          ],
          chosen: 'postcopy' as const,
          planningTimeMs: 1012,
        }),
      ),
      consoleOutput: vi.fn(() => Promise.resolve('NOVACRON-GUEST-READY\nHEARTBEAT 1 1.02\n')),
      metrics: vi.fn((name: string) =>
        Promise.resolve({
          vmId: name,
          samples: [
            { vmId: name, at: '2026-01-01T00:00:00.000Z', memoryBytes: 268435456 },
            {
              vmId: name,
              at: '2026-01-01T00:00:05.000Z',
              cpuSeconds: 12.5,
              cpuPercent: 42.25,
              rssBytes: 104857600,
              memoryBytes: 268435456,
              disk: { readBytes: 2048, writtenBytes: 1024, readOps: 4, writeOps: 2 },
              nicAbsentReason: 'the VM has no NIC',
            },
          ],
        }),
      ),
      patch: vi.fn((name: string, patch: VmPatch) => {
        const found = vms.find((v) => v.name === name || v.id === name);
        if (!found) return notFound(name);
        const { labels, ...rest } = patch;
        return Promise.resolve({
          ...found,
          ...rest,
          labels: mergeLabels(found.labels, labels ?? {}),
        });
      }),
    },
    hosts: {
      add: vi.fn((name: string) =>
        Promise.resolve({
          name,
          token: `ncj1.${'s'.repeat(43)}.${'f'.repeat(64)}`,
          expiresAt: '2026-01-01T01:00:00.000Z',
          joinCommand: `novacron agent --server https://10.0.0.1:8093 --join ncj1.x --name ${name}`,
        }),
      ),
      list: vi.fn(() => Promise.resolve({ items: [host], nextCursor: null })),
      get: vi.fn(() => Promise.resolve(host)),
      metrics: vi.fn((name: string) => Promise.resolve({ hostId: name, samples: [] })),
      patch: vi.fn((_name: string, patch: HostPatch) =>
        Promise.resolve({
          ...host,
          cordoned: patch.cordoned ?? host.cordoned,
          state: patch.enabled === false ? ('disabled' as const) : host.state,
          labels: mergeLabels(host.labels, patch.labels ?? {}),
        }),
      ),
      cordon: vi.fn(() => Promise.resolve({ ...host, cordoned: true })),
      uncordon: vi.fn(() => Promise.resolve({ ...host, cordoned: false, maintenance: false })),
      drain: vi.fn(() =>
        Promise.resolve(
          operation({ kind: 'host.drain', target: { type: 'host', id: host.id, name: host.name } }),
        ),
      ),
    },
    scheduler: {
      explain: vi.fn(() =>
        Promise.resolve({
          policy: 'spread' as const,
          hosts: 2,
          filters: [
            {
              filter: 'labels',
              removed: [{ host: 'host-b', reason: 'selector zone=a: host has zone=b' }],
            },
          ],
          candidates: [
            {
              host: 'host-a',
              score: 0.9,
              scores: { spread: { value: 0.95, weight: 1 }, balanced: { value: 0.7, weight: 0.2 } },
            },
          ],
          chosen: 'host-a',
          reason: 'spread: host-a scored 0.900, best of 1 that fit out of 2 hosts',
        }),
      ),
    },
    images: {
      list: vi.fn(() => Promise.resolve({ items: [image], nextCursor: null })),
      get: vi.fn(() => Promise.resolve(image)),
      import: vi.fn(() =>
        Promise.resolve(
          operation({
            kind: 'image.import',
            target: { type: 'image', id: image.id, name: image.name },
          }),
        ),
      ),
      upload: vi.fn(() =>
        Promise.resolve(
          operation({
            kind: 'image.import',
            target: { type: 'image', id: image.id, name: image.name },
          }),
        ),
      ),
      delete: vi.fn(() => Promise.resolve(image)),
    },
    operations: {
      get: vi.fn((id: string) => Promise.resolve(operation({ id, status: 'running' }))),
      wait: vi.fn((id: string) =>
        Promise.resolve(waits.shift() ?? operation({ id, status: 'succeeded', progress: 100 })),
      ),
      list: vi.fn((query: OperationListQuery = {}) =>
        Promise.resolve(
          query.cursor === undefined
            ? { items: [operation({ id: 'op-2', status: 'running' })], nextCursor: 'page-2' }
            : { items: [operation({ id: 'op-1', status: 'succeeded' })], nextCursor: null },
        ),
      ),
      cancel: vi.fn((id: string) => Promise.resolve(operation({ id, status: 'running' }))),
    },
    // `novacron events` has its own tests (commands/events.test.ts).
    events: vi.fn((): never => {
      throw new Error('not used by these tests');
    }),
  } satisfies CliClient;
  return client;
}

class MemoryCredentials implements CredentialStore {
  readonly servers = new Map<string, StoredCredentials>();
  get(url: string) {
    return Promise.resolve(this.servers.get(serverKey(url)));
  }
  save(url: string, credentials: StoredCredentials) {
    this.servers.set(serverKey(url), credentials);
    return Promise.resolve();
  }
  remove(url: string) {
    return Promise.resolve(this.servers.delete(serverKey(url)));
  }
}

/** Runs `novacron ...args` in-process against the fake client. */
async function cli(
  args: string[],
  setup: {
    client?: ReturnType<typeof fakeClient>;
    env?: Record<string, string>;
    credentials?: MemoryCredentials;
    password?: string;
  } = {},
) {
  const client = setup.client ?? fakeClient();
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    createClient: vi.fn(() => client),
    loadConfig: () => loadConfig({ NOVACRON_SERVER_URL: SERVER, ...setup.env }),
    credentials: setup.credentials ?? new MemoryCredentials(),
    readPassword: vi.fn(() => Promise.resolve(setup.password ?? 'secret')),
  };
  const code = await run(['node', 'novacron', ...args], deps);
  return { code, stdout, stderr, client, deps };
}

describe('listing', () => {
  it('follows every page and prints aligned columns', async () => {
    const { code, stdout, client } = await cli(['vm', 'list']);

    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        'NAME  STATE    HOST    CPUS  MEMORY  IMAGE',
        'demo  running  host-a  1     256M    tiny',
        'web   stopped  -       1     2G      tiny',
        '',
      ].join('\n'),
    );
    expect(client.vms.list.mock.calls.map(([query]) => query?.cursor)).toEqual([
      undefined,
      'page-2',
    ]);
  });

  it('passes the filters on', async () => {
    const { client } = await cli(['vm', 'list', '--state', 'running', '--host', 'host-a']);
    expect(client.vms.list).toHaveBeenCalledWith({
      state: 'running',
      host: 'host-a',
      project: undefined,
      cursor: undefined,
    });
  });

  it('prints the API objects with -o json, before or after the subcommand', async () => {
    const after = await cli(['vm', 'list', '-o', 'json']);
    const before = await cli(['-o', 'json', 'vm', 'list']);

    expect(JSON.parse(after.stdout)).toEqual([
      vm('demo'),
      vm('web', { state: 'stopped', host: null, memoryMiB: 2048 }),
    ]);
    expect(before.stdout).toBe(after.stdout);
  });

  it('prints yaml with -o yaml', async () => {
    const { stdout } = await cli(['host', 'list', '--output=yaml']);
    expect(parse(stdout)).toEqual([host]);
  });

  it('host add prints the join token once and the exact command that joins with it', async () => {
    const { code, stdout, client } = await cli(['host', 'add', 'node1']);
    expect(code).toBe(0);
    expect(client.hosts.add).toHaveBeenCalledWith('node1');
    expect(stdout).toBe(
      [
        'join token for host node1, valid until 2026-01-01T01:00:00.000Z, shown only once:',
        `  ncj1.${'s'.repeat(43)}.${'f'.repeat(64)}`,
        'on the machine to join, run:',
        '  novacron agent --server https://10.0.0.1:8093 --join ncj1.x --name node1',
        '',
      ].join('\n'),
    );
    const json = await cli(['host', 'add', 'node2', '-o', 'json']);
    expect(parse(json.stdout)).toMatchObject({ name: 'node2' });
    expect(typeof (parse(json.stdout) as { expiresAt?: unknown }).expiresAt).toBe('string');
  });

  it('agent needs --server', async () => {
    const { code, stderr } = await cli(['agent', '--join', 'x']);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/--server/);
  });

  it('lists hosts and images as tables', async () => {
    expect((await cli(['host', 'list'])).stdout).toBe(
      'NAME    STATE  CPUS  MEMORY  ACCEL  QEMU\nhost-a  ready  8     16G     tcg    7.2.0\n',
    );
    expect((await cli(['image', 'list'])).stdout).toBe(
      'NAME  PROJECT  KIND    STATUS  SIZE\ntiny  default  kernel  ready   12M\n',
    );
  });
});

describe('vm create', () => {
  it('sends sizes in MiB and GiB and prints the operation', async () => {
    const { code, stdout, client } = await cli([
      'vm',
      'create',
      'demo',
      '--image',
      'tiny',
      '--memory',
      '256M',
      '--disk',
      '2G',
      '--cpus',
      '2',
      '--kernel-args',
      'workload=idle',
      '--no-start',
    ]);

    expect(code).toBe(0);
    expect(client.vms.create).toHaveBeenCalledWith({
      name: 'demo',
      image: 'tiny',
      cpus: 2,
      memoryMiB: 256,
      diskGiB: 2,
      kernelArgs: 'workload=idle',
      start: false,
    });
    expect(stdout).toBe('operation op-1 vm.create pending (vm demo)\n');
  });

  it('waits with --wait and says where the VM runs', async () => {
    const { code, stdout, client } = await cli([
      'vm',
      'create',
      'demo',
      '--image',
      'tiny',
      '--wait',
    ]);

    expect(code).toBe(0);
    expect(client.vms.create).toHaveBeenCalledWith({ name: 'demo', image: 'tiny', start: true });
    expect(client.operations.wait).toHaveBeenCalledWith('op-1', 600, expect.anything());
    expect(stdout).toBe('vm demo created (running on host-a)\n');
  });

  it('sends placement rules, and explains instead of creating with --dry-run', async () => {
    const flags = [
      '--policy',
      'spread',
      '--group',
      'web',
      '--anti-affinity',
      'hard',
      '--selector',
      'zone=a',
    ];
    const created = await cli(['vm', 'create', 'demo', '--image', 'tiny', ...flags]);
    expect(created.code).toBe(0);
    expect(created.client.vms.create).toHaveBeenCalledWith({
      name: 'demo',
      image: 'tiny',
      start: true,
      placement: { policy: 'spread', group: 'web', antiAffinity: 'hard', selector: { zone: 'a' } },
    });
    const dry = await cli(['vm', 'create', 'demo', '--image', 'tiny', '--dry-run', ...flags]);
    expect(dry.code).toBe(0);
    expect(dry.client.vms.create).not.toHaveBeenCalled();
    expect(dry.client.scheduler.explain).toHaveBeenCalledWith({
      placement: { policy: 'spread', group: 'web', antiAffinity: 'hard', selector: { zone: 'a' } },
    });
    expect(dry.stdout).toMatch(/^would place on host-a \(policy spread, 2 hosts\)\n/);
    expect(dry.stdout).toMatch(
      /filter labels removed 1:\n {2}host-b: selector zone=a: host has zone=b/,
    );
    expect(dry.stdout).toMatch(
      /HOST +SCORE +SPREAD \(x1\) +BALANCED \(x0.2\)\nhost-a +0.900 +0.950 +0.700/,
    );

    const ruleless = await cli(['vm', 'create', 'demo', '--image', 'tiny', '--affinity', 'hard']);
    expect(ruleless.code).toBe(2);
    expect(ruleless.stderr).toMatch(/--affinity and --anti-affinity apply to a group/);
  });

  it('refuses a bad name or size locally, sending nothing', async () => {
    const name = await cli(['vm', 'create', 'My_VM', '--image', 'tiny']);
    expect(name.code).toBe(1);
    expect(name.stderr).toMatch(/^error: INVALID_NAME: vm name 'My_VM' is invalid: .*\n$/);
    expect(name.deps.createClient).not.toHaveBeenCalled();

    const size = await cli(['vm', 'create', 'demo', '--image', 'tiny', '--memory', '12X']);
    expect(size.code).toBe(1);
    expect(size.stderr).toBe(
      "error: INVALID_SIZE: size '12X' is invalid: use a number with M, G or T\n",
    );
    expect(size.client.vms.create).not.toHaveBeenCalled();
  });

  it('prints the refusal as JSON on stderr with -o json', async () => {
    const { code, stdout, stderr } = await cli([
      'vm',
      'create',
      'demo',
      '--image',
      'tiny',
      '--disk',
      '1500M',
      '-o',
      'json',
    ]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(JSON.parse(stderr)).toEqual({
      error: {
        code: 'INVALID_SIZE',
        message: "disk size '1500M' is not a whole number of GiB",
        details: { size: '1500M' },
      },
    });
  });

  it('needs --image', async () => {
    const { code, stderr } = await cli(['vm', 'create', 'demo']);
    expect(code).toBe(2);
    expect(stderr).toBe("error: USAGE: required option '--image <image>' not specified\n");
  });
});

describe('vm actions', () => {
  it('sends --force and, with --wait, reports the state reached', async () => {
    const client = fakeClient();
    client.vms.get.mockResolvedValueOnce(vm('demo', { state: 'stopped' }));
    const { code, stdout } = await cli(['vm', 'stop', 'demo', '--force', '--wait'], { client });

    expect(code).toBe(0);
    expect(client.vms.action).toHaveBeenCalledWith('demo', { action: 'stop', force: true });
    expect(stdout).toBe('vm demo stopped (stopped on host-a)\n');
  });

  it('fails with the operation’s own error code when it fails', async () => {
    const failed = operation({
      kind: 'vm.start',
      status: 'failed',
      error: { code: 'QEMU_FAILED', message: 'qemu exited with status 1: could not open disk' },
    });
    const { code, stdout, stderr } = await cli(['vm', 'start', 'demo', '--wait'], {
      client: fakeClient({ waitStatuses: [failed] }),
    });

    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe('error: QEMU_FAILED: qemu exited with status 1: could not open disk\n');
  });

  it('prints the final operation and the error with -o json', async () => {
    const failed = operation({
      status: 'failed',
      error: { code: 'NO_HOST_FITS', message: 'no host fits' },
    });
    const { code, stdout, stderr } = await cli(
      ['vm', 'create', 'big', '--image', 'tiny', '--wait', '-o', 'json'],
      {
        client: fakeClient({ waitStatuses: [failed] }),
      },
    );

    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toEqual(failed);
    expect(JSON.parse(stderr)).toMatchObject({
      error: { code: 'NO_HOST_FITS', message: 'no host fits' },
    });
  });

  it('deletes with --force and prints the operation id and status', async () => {
    const { stdout, client } = await cli(['vm', 'delete', 'demo', '--force']);
    expect(client.vms.delete).toHaveBeenCalledWith('demo', { force: true });
    expect(stdout).toBe('operation op-1 vm.delete pending (vm demo)\n');
  });

  it('reports an operation still running when the wait ends', async () => {
    const { code, stderr } = await cli(['operation', 'wait', 'op-9', '--timeout', '5'], {
      client: fakeClient({
        waitStatuses: [operation({ id: 'op-9', status: 'running', phase: 'booting' })],
      }),
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^error: WAIT_TIMEOUT: operation op-9 \(vm.create demo\) is still running after 5s, in phase 'booting'/,
    );
  });
});

describe('vm migrate', () => {
  it('sends limits in bytes/s and ms, TLS off with --no-tls', async () => {
    const { code, client } = await cli([
      'vm',
      'migrate',
      'web',
      '--to',
      'h2',
      '--strategy',
      'postcopy',
      '--max-bandwidth',
      '32M',
      '--max-downtime',
      '100ms',
      '--no-tls',
    ]);
    expect(code).toBe(0);
    expect(client.vms.migrate).toHaveBeenCalledWith('web', {
      to: 'h2',
      strategy: 'postcopy',
      maxBandwidthBytes: 32 * 1024 * 1024,
      maxDowntimeMs: 100,
      tls: false,
    });
  });

  it('reports the measured outcome with --wait', async () => {
    const done = operation({
      kind: 'vm.migrate',
      status: 'succeeded',
      result: {
        from: 'h1',
        to: 'h2',
        strategy: 'precopy',
        escalated: null,
        totalTimeMs: 812,
        downtimeMs: 9,
        bytesTransferred: 40 * 1024 * 1024,
        predicted: { totalTimeMs: 900, downtimeMs: 20 },
      },
    });
    const { code, stdout } = await cli(['vm', 'migrate', 'web', '--wait'], {
      client: fakeClient({ waitStatuses: [done] }),
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^vm demo migrated from h1 to h2 in 0\.81 s \(downtime 9 ms, precopy, 40M sent; predicted 0\.90 s\)\n$/,
    );
  });

  it('prints the plan with --plan, the chosen strategy marked', async () => {
    const { code, stdout, client } = await cli(['vm', 'migrate', 'web', '--plan']);
    expect(code).toBe(0);
    expect(client.vms.migrate).not.toHaveBeenCalled();
    expect(stdout).toContain('postcopy *');
    expect(stdout).toContain('dirty rate above the link');
  });

  it('refuses a bad duration locally', async () => {
    const { code, stderr, client } = await cli(['vm', 'migrate', 'web', '--max-downtime', 'soon']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('VALIDATION_FAILED');
    expect(client.vms.migrate).not.toHaveBeenCalled();
  });
});

describe('vm resize and hotplug', () => {
  it('sends the sizes read from the flags', async () => {
    const { code, stdout, client } = await cli([
      'vm',
      'resize',
      'web',
      '--cpus',
      '2',
      '--memory',
      '512M',
      '--disk',
      '4G',
      '--max-cpus',
      '4',
      '--max-memory',
      '1G',
    ]);
    expect(code).toBe(0);
    expect(client.vms.resize).toHaveBeenCalledWith('web', {
      cpus: 2,
      memoryMiB: 512,
      diskGiB: 4,
      maxCpus: 4,
      maxMemoryMiB: 1024,
    });
    expect(stdout).toContain('vm.resize');
  });

  it('creates a VM with headroom for live growth', async () => {
    const { code, client } = await cli([
      'vm',
      'create',
      'roomy',
      '--image',
      'tiny',
      '--max-cpus',
      '4',
      '--max-memory',
      '2G',
    ]);
    expect(code).toBe(0);
    expect(client.vms.create).toHaveBeenCalledWith(
      expect.objectContaining({ name: 'roomy', maxCpus: 4, maxMemoryMiB: 2048 }),
    );
  });

  it('refuses a resize that names nothing, before asking the server', async () => {
    const { code, stderr, client } = await cli(['vm', 'resize', 'web']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('VALIDATION_FAILED');
    expect(client.vms.resize).not.toHaveBeenCalled();
  });

  it('adds and removes disks and NICs, and lists them', async () => {
    const { client } = await cli(['vm', 'disk', 'add', 'web', '--size', '2G']);
    expect(client.vms.addDisk).toHaveBeenCalledWith('web', { sizeGiB: 2 });
    const removed = await cli(['vm', 'disk', 'remove', 'web', 'disk1']);
    expect(removed.client.vms.removeDisk).toHaveBeenCalledWith('web', 'disk1');
    const listed = await cli(['vm', 'disk', 'list', 'web']);
    expect(listed.stdout).toMatch(/disk0\s+2 GiB\s+boot/);
    expect(listed.stdout).toMatch(/disk1\s+1 GiB\s+hotplug0/);
    const nic = await cli(['vm', 'nic', 'add', 'web', '--nic-name', 'net2']);
    expect(nic.client.vms.addNic).toHaveBeenCalledWith('web', { name: 'net2' });
    const nics = await cli(['vm', 'nic', 'list', 'web']);
    expect(nics.stdout).toContain('52:54:00:01:02:03');
  });
});

describe('vm console', () => {
  it('prints the kept serial output with --output', async () => {
    const { code, stdout, client } = await cli(['vm', 'console', 'demo', '--output']);
    expect(code).toBe(0);
    expect(stdout).toBe('NOVACRON-GUEST-READY\nHEARTBEAT 1 1.02\n');
    expect(client.vms.consoleOutput).toHaveBeenCalledWith('demo', { tailBytes: undefined });
  });

  it('wraps it in JSON with -o json', async () => {
    const { stdout } = await cli(['vm', 'console', 'demo', '-o', 'json', '--tail-bytes', '100']);
    expect(JSON.parse(stdout)).toEqual({
      vm: 'demo',
      output: 'NOVACRON-GUEST-READY\nHEARTBEAT 1 1.02\n',
    });
  });

  it('attaches interactively without --output; a client without consoles says so, exit 2', async () => {
    const { code, stderr, client } = await cli(['vm', 'console', 'demo']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^error: NOT_AVAILABLE: this client cannot attach to a console/);
    expect(client.vms.consoleOutput).not.toHaveBeenCalled();
  });
});

describe('errors', () => {
  it('prints the API error code and message on one line', async () => {
    const { code, stdout, stderr } = await cli(['vm', 'get', 'ghost']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe("error: VM_NOT_FOUND: vm 'ghost' not found\n");
  });

  it('prints it in the wire shape with -o json', async () => {
    const { stderr } = await cli(['-o', 'json', 'vm', 'get', 'ghost']);
    expect(JSON.parse(stderr)).toEqual({
      error: {
        code: 'VM_NOT_FOUND',
        message: "vm 'ghost' not found",
        details: { vm: 'ghost' },
        requestId: 'req-1',
      },
    });
  });

  it('answers misuse with USAGE and exit code 2', async () => {
    expect(await cli(['vm', 'list', '--bogus'])).toMatchObject({
      code: 2,
      stderr: "error: USAGE: unknown option '--bogus'\n",
    });
    expect((await cli(['vm', 'list', '-o', 'xml'])).code).toBe(2);
    expect((await cli(['vm', 'get'])).stderr).toBe(
      "error: USAGE: missing required argument 'name'\n",
    );
    expect((await cli(['operation', 'wait', 'op-1', '--timeout', 'soon'])).code).toBe(2);
  });

  it('reports a bad setting without a stack trace', async () => {
    const { code, stderr } = await cli(['vm', 'list'], { env: { NOVACRON_SERVER_URL: 'ftp://x' } });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^error: CONFIG_INVALID: invalid setting NOVACRON_SERVER_URL="ftp:\/\/x"/,
    );
  });

  it('shows help on stdout with exit code 0', async () => {
    const { code, stdout } = await cli(['vm', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: novacron vm');
    expect(stdout).toContain('console [options] <name>');
  });
});

describe('login', () => {
  it('stores the token for this server, and later commands send it', async () => {
    const credentials = new MemoryCredentials();
    const login = await cli(['login', '--username', 'ops', '--password-stdin'], { credentials });

    expect(login.code).toBe(0);
    expect(login.stdout).toBe(`logged in to ${SERVER} as ops\n`);
    expect(login.deps.readPassword).toHaveBeenCalledWith({
      prompt: `Password for ops at ${SERVER}: `,
      fromStdin: true,
    });
    expect(login.deps.createClient).toHaveBeenCalledWith({ baseUrl: SERVER });
    expect(credentials.servers.get(SERVER)).toEqual({
      username: 'ops',
      accessToken: 'token-of-ops',
      refreshToken: 'r',
      expiresAt: 'soon',
    });

    const list = await cli(['vm', 'list'], { credentials });
    expect(list.deps.createClient).toHaveBeenCalledWith({ baseUrl: SERVER, token: 'token-of-ops' });
  });

  it('prefers NOVACRON_TOKEN to the stored token', async () => {
    const credentials = new MemoryCredentials();
    await cli(['login'], { credentials });
    const list = await cli(['vm', 'list'], { credentials, env: { NOVACRON_TOKEN: 'from-env' } });
    expect(list.deps.createClient).toHaveBeenCalledWith({ baseUrl: SERVER, token: 'from-env' });
  });

  it('stores nothing when the password is wrong', async () => {
    const credentials = new MemoryCredentials();
    const { code, stderr } = await cli(['login'], { credentials, password: 'nope' });
    expect(code).toBe(1);
    expect(stderr).toBe('error: INVALID_CREDENTIALS: wrong username or password\n');
    expect(credentials.servers.size).toBe(0);
  });

  it('logs out of this server', async () => {
    const credentials = new MemoryCredentials();
    await cli(['login'], { credentials });
    expect((await cli(['logout'], { credentials })).stdout).toBe(`logged out of ${SERVER}\n`);
    expect((await cli(['logout'], { credentials })).stdout).toBe(`not logged in to ${SERVER}\n`);
  });
});

describe('host, vm patch and operation commands', () => {
  it('labels, cordons and disables a host', async () => {
    const label = await cli(['host', 'label', 'host-a', 'rack=a', 'old-']);
    expect(label.code).toBe(0);
    expect(label.client.hosts.patch).toHaveBeenCalledWith('host-a', {
      labels: { rack: 'a', old: null },
    });
    expect(label.stdout).toBe('host host-a labelled (ready)\n');

    const cordon = await cli(['host', 'cordon', 'host-a']);
    expect(cordon.client.hosts.cordon).toHaveBeenCalledWith('host-a');
    expect(cordon.stdout).toBe('host host-a cordoned (ready,cordoned)\n');
    const uncordon = await cli(['host', 'uncordon', 'host-a']);
    expect(uncordon.client.hosts.uncordon).toHaveBeenCalledWith('host-a');
    expect(uncordon.stdout).toBe('host host-a uncordoned (ready)\n');
    const drain = await cli(['host', 'drain', 'host-a']);
    expect(drain.client.hosts.drain).toHaveBeenCalledWith('host-a');
    expect(drain.stdout).toBe('operation op-1 host.drain pending (host host-a)\n');
    const disable = await cli(['host', 'disable', 'host-a', '-o', 'json']);
    expect(disable.client.hosts.patch).toHaveBeenCalledWith('host-a', { enabled: false });
    expect(JSON.parse(disable.stdout)).toMatchObject({ name: 'host-a', state: 'disabled' });
    for (const [verb, patch] of [['enable', { enabled: true }]] as const) {
      const { client, code } = await cli(['host', verb, 'host-a']);
      expect(code).toBe(0);
      expect(client.hosts.patch).toHaveBeenCalledWith('host-a', patch);
    }

    const bad = await cli(['host', 'label', 'host-a', 'novalue']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: VALIDATION_FAILED: label 'novalue' is invalid/);
    expect(bad.client.hosts.patch).not.toHaveBeenCalled();
  });

  it('patches a VM with labels, restart policy and sizes', async () => {
    const { code, stdout, client } = await cli([
      'vm',
      'patch',
      'demo',
      '--label',
      'tier=web',
      '--label',
      'old-',
      '--restart-policy',
      'on-failure',
      '--cpus',
      '2',
      '--memory',
      '512M',
      '--description',
      'front end',
    ]);
    expect(code).toBe(0);
    expect(client.vms.patch).toHaveBeenCalledWith('demo', {
      labels: { tier: 'web', old: null },
      restartPolicy: 'on-failure',
      cpus: 2,
      memoryMiB: 512,
      description: 'front end',
    });
    expect(stdout).toBe('vm demo changed (running)\n');

    const empty = await cli(['vm', 'patch', 'demo']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^error: VALIDATION_FAILED: nothing to change/);
    const policy = await cli(['vm', 'patch', 'demo', '--restart-policy', 'sometimes']);
    expect(policy.code).toBe(2);
    expect(policy.client.vms.patch).not.toHaveBeenCalled();
  });

  it('creates with a restart policy and labels, and lists by label', async () => {
    const created = await cli([
      'vm',
      'create',
      'demo',
      '--image',
      'tiny',
      '--restart-policy',
      'always',
      '--label',
      'tier=web',
    ]);
    expect(created.client.vms.create).toHaveBeenCalledWith({
      name: 'demo',
      image: 'tiny',
      start: true,
      restartPolicy: 'always',
      labels: { tier: 'web' },
    });

    const listed = await cli(['vm', 'list', '--label', 'tier=web', '--label', 'env=prod']);
    expect(listed.code).toBe(0);
    expect(listed.client.vms.list).toHaveBeenCalledWith({
      state: undefined,
      host: undefined,
      project: undefined,
      cursor: undefined,
      label: ['tier=web', 'env=prod'],
    });
    const bad = await cli(['vm', 'list', '--label', 'tier']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: VALIDATION_FAILED: label selector 'tier' is invalid/);
    expect(bad.deps.createClient).not.toHaveBeenCalled();
  });

  it('lists operations across pages and cancels one', async () => {
    const list = await cli(['operation', 'list', '--status', 'running', '--target', 'demo']);
    expect(list.code).toBe(0);
    expect(list.client.operations.list.mock.calls.map(([query]) => query)).toEqual([
      { status: 'running', kind: undefined, target: 'demo', cursor: undefined, limit: undefined },
      { status: 'running', kind: undefined, target: 'demo', cursor: 'page-2', limit: undefined },
    ]);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+KIND\s+TARGET\s+STATUS/);
    expect(list.stdout).toMatch(/op-2 .*running/);
    expect(list.stdout).toMatch(/op-1 .*succeeded/);
    const one = await cli(['operation', 'list', '--limit', '1', '-o', 'json']);
    expect(JSON.parse(one.stdout)).toHaveLength(1);

    const cancel = await cli(['operation', 'cancel', 'op-7']);
    expect(cancel.code).toBe(0);
    expect(cancel.client.operations.cancel).toHaveBeenCalledWith('op-7');
    expect(cancel.stdout).toBe('operation op-7 vm.create running (vm demo)\n');
    const waited = await cli(['operation', 'cancel', 'op-7', '--wait']);
    expect(waited.client.operations.wait).toHaveBeenCalledWith('op-7', 600, expect.anything());
  });
});

describe('up and down', () => {
  it('hand their flags to the embedded server and agent', async () => {
    const up = await cli([
      'up',
      '--hosts',
      '3',
      '--accel',
      'tcg',
      '--api-port',
      '9000',
      '--data-dir',
      '/srv/nc',
    ]);
    expect(up.code).toBe(0);
    expect(embedded.runUp).toHaveBeenCalledWith({
      dataDir: '/srv/nc',
      apiPort: 9000,
      accel: 'tcg',
      hosts: 3,
    });

    expect((await cli(['down'])).code).toBe(0);
    expect(embedded.runDown).toHaveBeenCalledWith({ dataDir: undefined });
  });

  it('refuses an accelerator or host count it does not know', async () => {
    expect((await cli(['up', '--accel', 'hvf'])).code).toBe(2);
    expect((await cli(['up', '--hosts', '0'])).code).toBe(2);
  });
});

describe('vm metrics, host metrics', () => {
  it('prints the latest sample as a table, unread values as -', async () => {
    const { code, stdout, client } = await cli([
      'vm',
      'metrics',
      'demo',
      '--since',
      '2026-01-01T00:00:00Z',
    ]);
    expect(code).toBe(0);
    expect(client.vms.metrics).toHaveBeenCalledWith('demo', { since: '2026-01-01T00:00:00Z' });
    expect(stdout).toMatch(/cpu:\s+42\.3%/);
    expect(stdout).toMatch(/rss:\s+100M/);
    expect(stdout).toMatch(/nic received:\s+the VM has no NIC/);
  });

  it('prints the whole series with -o json, and says when a host has no samples yet', async () => {
    const json = await cli(['vm', 'metrics', 'demo', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      vmId: 'demo',
      samples: [{}, { cpuPercent: 42.25 }],
    });
    const host = await cli(['host', 'metrics', 'h1']);
    expect(host.code).toBe(0);
    expect(host.stdout).toMatch(/no samples yet/);
  });
});
