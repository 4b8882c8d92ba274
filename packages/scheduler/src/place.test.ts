import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClusterSnapshot, HostSnapshot, PlaceOptions, PlacementRequest } from './model.js';
import { HostIndex, explain, place } from './place.js';
import { seededRandom } from './random.js';

function host(name: string, overrides: Partial<HostSnapshot> = {}): HostSnapshot {
  return {
    id: `id-${name}`,
    name,
    state: 'ready',
    cordoned: false,
    maintenance: false,
    capacity: { cpus: 4, memoryMiB: 4096 },
    allocated: { cpus: 0, memoryMiB: 0, diskGiB: 0 },
    labels: {},
    ...overrides,
  };
}

const options: PlaceOptions = { defaultPolicy: 'spread', random: seededRandom(1) };
const small = { cpus: 1, memoryMiB: 512, diskGiB: 1 };
const cluster = (hosts: HostSnapshot[], extra: Partial<ClusterSnapshot> = {}): ClusterSnapshot => ({
  hosts,
  overcommit: { cpu: 1, memory: 1, disk: 1 },
  ...extra,
});

describe('place', () => {
  it('spreads onto the emptiest host and binpacks onto the fullest', () => {
    const snapshot = cluster([
      host('a', { allocated: { cpus: 2, memoryMiB: 2048, diskGiB: 0 } }),
      host('b'),
    ]);
    expect(place(snapshot, { size: small }, options)).toMatchObject({ host: { name: 'b' } });
    expect(place(snapshot, { size: small, policy: 'binpack' }, options)).toMatchObject({
      host: { name: 'a' },
    });
  });

  it('keeps new VMs off cordoned, maintenance and unreachable hosts, and says so', () => {
    const snapshot = cluster([
      host('a', { cordoned: true }),
      host('b', { maintenance: true }),
      host('c', { state: 'unreachable' }),
    ]);
    expect(place(snapshot, { size: small }, options)).toEqual({
      kind: 'no-fit',
      reason: 'no host fits: state removed 3',
    });
    const explained = explain(snapshot, { size: small }, options);
    expect(explained.chosen).toBeNull();
    expect(explained.filters).toEqual([
      {
        filter: 'state',
        removed: [
          { host: 'a', reason: 'host is cordoned' },
          { host: 'b', reason: 'host is in maintenance' },
          { host: 'c', reason: 'host is unreachable' },
        ],
      },
    ]);
  });

  it('honours overcommit ratios', () => {
    const full = host('a', { allocated: { cpus: 4, memoryMiB: 1024, diskGiB: 0 } });
    expect(place(cluster([full]), { size: small }, options).kind).toBe('no-fit');
    const overcommitted = cluster([full], { overcommit: { cpu: 2, memory: 1, disk: 1 } });
    expect(place(overcommitted, { size: small }, options)).toMatchObject({ host: { name: 'a' } });
    expect(explain(cluster([full]), { size: small }, options).filters).toEqual([
      { filter: 'capacity', removed: [{ host: 'a', reason: '1 vCPUs asked, 0 of 4 free' }] },
    ]);
  });

  it('places a hard anti-affinity group on distinct hosts and refuses one more', () => {
    const index = new HostIndex(cluster([host('a'), host('b'), host('c')]));
    const request: PlacementRequest = { size: small, group: 'p/web', antiAffinity: 'hard' };
    const names = [1, 2, 3].map(() => {
      const placed = index.place(request, options);
      if (placed.kind !== 'placed') throw new Error(placed.reason);
      index.assign(placed.index, request);
      return placed.host.name;
    });
    expect(new Set(names).size).toBe(3);
    expect(index.place(request, options)).toEqual({
      kind: 'no-fit',
      reason: 'no host fits: affinity removed 3',
    });
    const explained = index.explain(request, options);
    expect(explained.filters[0]?.removed[0]?.reason).toBe(
      'hard anti-affinity: 1 VM of group web already here',
    );
  });

  it('follows node selectors and reports a label no host has', () => {
    const snapshot = cluster([
      host('a', { labels: { zone: 'a' } }),
      host('b', { labels: { zone: 'b' } }),
    ]);
    expect(place(snapshot, { size: small, selector: { zone: 'b' } }, options)).toMatchObject({
      host: { name: 'b' },
    });
    const none = place(snapshot, { size: small, selector: { zone: 'c' } }, options);
    expect(none).toEqual({ kind: 'no-fit', reason: 'no host fits: 2 without the selected labels' });
    expect(explain(snapshot, { size: small, selector: { zone: 'c' } }, options).filters).toEqual([
      {
        filter: 'labels',
        removed: [
          { host: 'a', reason: 'selector zone=c: host has zone=a' },
          { host: 'b', reason: 'selector zone=c: host has zone=b' },
        ],
      },
    ]);
  });

  it('refuses affinity to a group placed with anti-affinity, whatever the hosts', () => {
    const snapshot = cluster([host('a', { groups: { 'p/web': 1 } }), host('b')], {
      groups: { 'p/web': { antiAffinity: 'hard' } },
    });
    const result = place(snapshot, { size: small, group: 'p/web', affinity: 'hard' }, options);
    expect(result.kind).toBe('no-fit');
    expect(result.kind === 'no-fit' && result.reason).toMatch(
      /contradictory constraints: group web/,
    );
  });

  it('refuses a request over the project quota', () => {
    const snapshot = cluster([host('a')], {
      quota: { limit: { memoryMiB: 1024 }, used: { cpus: 1, memoryMiB: 768, diskGiB: 1, vms: 1 } },
    });
    expect(place(snapshot, { size: small }, options)).toEqual({
      kind: 'no-fit',
      reason: 'project quota: 768 of 1024 MiB of memory used, 512 more asked',
    });
  });

  it('keeps a VM with its CPU model and off the host it leaves', () => {
    const snapshot = cluster([
      host('a', { cpuModel: 'qemu64' }),
      host('b', { cpuModel: 'host' }),
      host('c', { cpuModel: 'host' }),
    ]);
    const request = { size: small, cpuModel: 'host', excludeHosts: ['id-b'] };
    expect(place(snapshot, request, options)).toMatchObject({ host: { name: 'c' } });
  });

  it('takes hosts in turn under round-robin', () => {
    const snapshot = cluster([host('a'), host('b'), host('c')]);
    const names = [0, 1, 2, 3].map((cursor) => {
      const placed = place(
        snapshot,
        { size: small, policy: 'round-robin' },
        { ...options, cursor },
      );
      return placed.kind === 'placed' ? placed.host.name : placed.reason;
    });
    expect(names).toEqual(['a', 'b', 'c', 'a']);
  });

  it('prefers the host whose agent measures the least use under load-aware', () => {
    const snapshot = cluster([
      host('a', { load: { cpu: 0.9, memory: 0.5 } }),
      host('b', { load: { cpu: 0.1, memory: 0.2 } }),
    ]);
    expect(place(snapshot, { size: small, policy: 'load-aware' }, options)).toMatchObject({
      host: { name: 'b' },
    });
  });

  it('explains the same choice place makes, with each scorer', () => {
    const snapshot = cluster([
      host('a', { allocated: { cpus: 1, memoryMiB: 3000, diskGiB: 0 } }),
      host('b'),
    ]);
    const explained = explain(snapshot, { size: small, policy: 'balanced' }, options);
    const placed = place(snapshot, { size: small, policy: 'balanced' }, options);
    expect(placed.kind === 'placed' && placed.host.name).toBe(explained.chosen);
    expect(Object.keys(explained.candidates[0]?.scores ?? {})).toEqual(['balanced', 'spread']);
  });
});

// Property tests: an oracle written apart from the scheduler says what a valid host is.
const arbitraryHost = (i: number) =>
  fc.record({
    state: fc.constantFrom('ready', 'ready', 'ready', 'unreachable'),
    cordoned: fc.boolean().map((b) => b && i % 3 === 0),
    maintenance: fc.constantFrom(false, false, false, true),
    cpus: fc.integer({ min: 1, max: 16 }),
    memoryMiB: fc.integer({ min: 256, max: 16384 }),
    diskGiB: fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
    usedCpus: fc.integer({ min: 0, max: 16 }),
    usedMemory: fc.integer({ min: 0, max: 16384 }),
    zone: fc.constantFrom(undefined, 'a', 'b'),
    cpuModel: fc.constantFrom('host', 'qemu64'),
    web: fc.integer({ min: 0, max: 2 }),
  });

const arbitraryCase = fc.record({
  hosts: fc
    .integer({ min: 0, max: 12 })
    .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbitraryHost(i)))),
  overcommit: fc.constantFrom(1, 1.5, 4),
  cpus: fc.integer({ min: 1, max: 8 }),
  memoryMiB: fc.integer({ min: 16, max: 8192 }),
  diskGiB: fc.integer({ min: 1, max: 100 }),
  zone: fc.constantFrom(undefined, 'a', 'b', 'c'),
  cpuModel: fc.constantFrom(undefined, 'host'),
  group: fc.constantFrom(undefined, 'p/web'),
  affinity: fc.constantFrom(undefined, 'hard', 'soft'),
  antiAffinity: fc.constantFrom(undefined, 'hard', 'soft'),
  groupRule: fc.constantFrom(undefined, 'hard-anti', 'hard-affinity'),
  policy: fc.constantFrom('binpack', 'spread', 'balanced', 'round-robin', 'load-aware'),
  sample: fc.integer({ min: 1, max: 5 }),
  seed: fc.integer(),
});

type Case = typeof arbitraryCase extends fc.Arbitrary<infer T> ? T : never;

function build(c: Case): { snapshot: ClusterSnapshot; request: PlacementRequest } {
  const hosts = c.hosts.map((h, i) =>
    host(`h${i}`, {
      state: h.state,
      cordoned: h.cordoned,
      maintenance: h.maintenance,
      capacity: { cpus: h.cpus, memoryMiB: h.memoryMiB, diskGiB: h.diskGiB },
      allocated: { cpus: h.usedCpus, memoryMiB: h.usedMemory, diskGiB: 0 },
      labels: h.zone === undefined ? {} : { zone: h.zone },
      cpuModel: h.cpuModel,
      groups: c.group === undefined ? {} : { [c.group]: h.web },
      load: { cpu: (i % 5) / 5 },
    }),
  );
  const groups =
    c.group === undefined || c.groupRule === undefined
      ? undefined
      : {
          [c.group]:
            c.groupRule === 'hard-anti'
              ? { antiAffinity: 'hard' as const }
              : { affinity: 'hard' as const },
        };
  return {
    snapshot: {
      hosts,
      overcommit: { cpu: c.overcommit, memory: 1, disk: 1 },
      ...(groups && { groups }),
    },
    request: {
      size: { cpus: c.cpus, memoryMiB: c.memoryMiB, diskGiB: c.diskGiB },
      policy: c.policy,
      ...(c.zone && { selector: { zone: c.zone } }),
      ...(c.cpuModel && { cpuModel: c.cpuModel }),
      ...(c.group && { group: c.group }),
      ...(c.affinity && { affinity: c.affinity }),
      ...(c.antiAffinity && { antiAffinity: c.antiAffinity }),
    },
  };
}

/** Whether `h` may take the request, judged from first principles. */
function valid(snapshot: ClusterSnapshot, request: PlacementRequest, h: HostSnapshot): boolean {
  const rule = request.group === undefined ? undefined : snapshot.groups?.[request.group];
  const anti = request.antiAffinity === 'hard' || rule?.antiAffinity === 'hard';
  const together = request.affinity === 'hard' || rule?.affinity === 'hard';
  if (request.group !== undefined && anti && together) return false;
  const members = (x: HostSnapshot) =>
    request.group === undefined ? 0 : (x.groups?.[request.group] ?? 0);
  const anyMembers = snapshot.hosts.some((x) => members(x) > 0);
  const oc = snapshot.overcommit;
  return (
    h.state === 'ready' &&
    !h.cordoned &&
    !h.maintenance &&
    Object.entries(request.selector ?? {}).every(([k, v]) => h.labels[k] === v) &&
    (request.cpuModel === undefined || request.cpuModel === h.cpuModel) &&
    !(request.group !== undefined && anti && members(h) > 0) &&
    !(request.group !== undefined && together && anyMembers && members(h) === 0) &&
    h.allocated.cpus + request.size.cpus <= h.capacity.cpus * oc.cpu &&
    h.allocated.memoryMiB + request.size.memoryMiB <= h.capacity.memoryMiB * oc.memory &&
    (h.capacity.diskGiB === undefined ||
      h.allocated.diskGiB + request.size.diskGiB <= h.capacity.diskGiB * oc.disk)
  );
}

describe('place, for random clusters and requests', () => {
  it('never breaks a hard constraint or capacity, and never refuses a feasible request', () => {
    fc.assert(
      fc.property(arbitraryCase, (c) => {
        const { snapshot, request } = build(c);
        const result = place(snapshot, request, {
          defaultPolicy: 'spread',
          random: seededRandom(c.seed),
          sample: c.sample,
          cursor: c.seed,
        });
        const feasible = snapshot.hosts.some((h) => valid(snapshot, request, h));
        if (result.kind === 'placed') {
          expect(valid(snapshot, request, result.host)).toBe(true);
        } else {
          expect(feasible).toBe(false);
        }
        const explained = explain(snapshot, request, { defaultPolicy: 'spread', random: () => 0 });
        expect(explained.candidates.map((x) => x.host).sort()).toEqual(
          snapshot.hosts
            .filter((h) => valid(snapshot, request, h))
            .map((h) => h.name)
            .sort(),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('never overcommits a host over a run of placements', () => {
    fc.assert(
      fc.property(arbitraryCase, fc.integer({ min: 1, max: 40 }), (c, runs) => {
        const { snapshot, request } = build(c);
        const index = new HostIndex(snapshot);
        const random = seededRandom(c.seed);
        // The cluster as the index holds it now, for the oracle.
        const now = (): ClusterSnapshot => ({
          ...snapshot,
          hosts: Array.from({ length: index.size }, (_, i) => ({
            ...index.host(i),
            groups:
              request.group === undefined
                ? {}
                : { [request.group]: index.membersOn(request.group, i) },
          })),
        });
        for (let i = 0; i < runs; i++) {
          const result = index.place(request, {
            defaultPolicy: 'binpack',
            random,
            sample: c.sample,
          });
          const current = now();
          if (result.kind === 'no-fit') {
            expect(current.hosts.some((h) => valid(current, request, h))).toBe(false);
            break;
          }
          expect(valid(current, request, current.hosts[result.index] as HostSnapshot)).toBe(true);
          index.assign(result.index, request);
        }
      }),
      { numRuns: 500 },
    );
  });
});
