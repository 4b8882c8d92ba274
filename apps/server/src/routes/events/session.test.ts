import { EVENT_TYPES, type Event, type EventType } from '@novacron/api';
import { openSqliteTestStore, systemClock, type Store, type TestStore } from '@novacron/store';
import { createLogger } from '@novacron/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LiveEvents } from '../../services/live-events.js';
import { closeReason, EventStreamSession, type EventSink } from './session.js';

const logger = createLogger({ level: 'silent' });

/**
 * The socket side, recorded: frames are taken asynchronously, as a socket would, and `onFrame`
 * lets a test write to the store in the middle of a stream.
 */
class RecordingSink implements EventSink {
  readonly frames: Record<string, unknown>[] = [];
  bufferedAmount = 0;
  closed: { code: number; reason: string } | undefined;
  onFrame: (frame: Record<string, unknown>) => Promise<void> | void = () => undefined;

  send(frame: string, done: (error?: Error) => void): void {
    const parsed = JSON.parse(frame) as Record<string, unknown>;
    this.frames.push(parsed);
    void Promise.resolve(this.onFrame(parsed)).then(() => setImmediate(() => done()));
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }

  get events(): Event[] {
    return this.frames.filter((frame) => 'seq' in frame) as unknown as Event[];
  }
}

let testStore: TestStore;
let store: Store;

beforeEach(async () => {
  testStore = await openSqliteTestStore();
  store = testStore.store;
});

afterEach(async () => {
  await testStore.cleanup();
});

/** One operation.created event per call, in project `project` (null: none). */
async function emit(count: number, project: string | null = 'default'): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    await store.operations.create({
      kind: 'vm.start',
      target: { type: 'vm', id: `vm${i}`, name: `vm${i}` },
      project,
    });
  }
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Seqs of the stored events after `since` with these types: what a stream must deliver. */
async function storedSeqs(since: number, types?: EventType[]): Promise<number[]> {
  return (await store.events.list({ since, limit: 1000, ...(types ? { types } : {}) })).map(
    (event) => event.seq,
  );
}

const limits = { pageSize: 3, maxBufferedBytes: 1024 * 1024, maxPendingEvents: 1000 };

describe('EventStreamSession', () => {
  it('replays from since in pages, then streams live events, in order, once each', async () => {
    await emit(7);
    const sink = new RecordingSink();
    const session = new EventStreamSession(store, sink, logger, limits);
    await session.start({ types: [...EVENT_TYPES], since: 2, project: undefined });
    expect(sink.frames[0]).toEqual({
      type: 'subscribed',
      types: [...EVENT_TYPES],
      live: [],
      since: 2,
      project: null,
    });
    await emit(4);
    const expected = await storedSeqs(2);
    expect(expected).toHaveLength(9);
    await until(() => sink.events.length === expected.length);
    expect(sink.events.map((event) => event.seq)).toEqual(expected);
    expect(session.lastSent).toBe(expected.at(-1));
    session.close();
  });

  it('without since, sends only what happens after it starts', async () => {
    await emit(3);
    const start = await store.events.lastSeq();
    const sink = new RecordingSink();
    const session = new EventStreamSession(store, sink, logger, limits);
    await session.start({ types: [...EVENT_TYPES], since: undefined, project: undefined });
    expect(sink.frames[0]).toMatchObject({ type: 'subscribed', since: start });
    await emit(2);
    await until(() => sink.events.length === 2);
    expect(sink.events.map((e) => e.seq)).toEqual(await storedSeqs(start));
    session.close();
  });

  it('loses nothing and repeats nothing when events commit while the replay runs', async () => {
    await emit(10);
    const sink = new RecordingSink();
    // Every replayed frame lets two more writes commit before the socket takes it.
    sink.onFrame = async (frame) => {
      if ('seq' in frame && sink.events.length <= 6) await emit(2);
    };
    const session = new EventStreamSession(store, sink, logger, limits);
    await session.start({ types: [...EVENT_TYPES], since: 0, project: undefined });
    sink.onFrame = () => undefined;
    await emit(1);
    const expected = await storedSeqs(0);
    expect(expected.length).toBeGreaterThan(20);
    await until(() => sink.events.length >= expected.length);
    expect(sink.events.map((e) => e.seq)).toEqual(expected);
    session.close();
  });

  it('rereads the store when the live buffer overflows during the replay', async () => {
    await emit(4);
    const sink = new RecordingSink();
    sink.onFrame = async (frame) => {
      if ('seq' in frame && sink.events.length === 1) await emit(12);
    };
    const session = new EventStreamSession(store, sink, logger, {
      ...limits,
      maxPendingEvents: 2,
    });
    await session.start({ types: [...EVENT_TYPES], since: 0, project: undefined });
    const expected = await storedSeqs(0);
    expect(expected).toHaveLength(16);
    await until(() => sink.events.length >= expected.length);
    expect(sink.events.map((e) => e.seq)).toEqual(expected);
    session.close();
  });

  it('filters by type and project, in the replay and live', async () => {
    await emit(2);
    await emit(2, null);
    const op = await store.operations.create({
      kind: 'vm.stop',
      target: { type: 'vm', id: 'x', name: 'x' },
      project: 'default',
    });
    const sink = new RecordingSink();
    const session = new EventStreamSession(store, sink, logger, limits);
    await session.start({ types: ['operation.updated'], since: 0, project: 'default' });
    await store.operations.update(op.id, { status: 'running' });
    await emit(2);
    await until(() => sink.events.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sink.events).toHaveLength(1);
    expect(sink.events[0]).toMatchObject({ type: 'operation.updated', project: 'default' });
    session.close();
  });

  it('disconnects a reader that leaves too much unread, and stops listening', async () => {
    const sink = new RecordingSink();
    const session = new EventStreamSession(store, sink, logger, {
      ...limits,
      maxBufferedBytes: 1000,
    });
    await session.start({ types: [...EVENT_TYPES], since: undefined, project: undefined });
    await emit(1);
    await until(() => sink.events.length === 1);
    sink.bufferedAmount = 5000;
    await emit(1);
    await until(() => sink.closed !== undefined);
    expect(sink.closed?.code).toBe(4429);
    expect(sink.closed?.reason).toMatch(/^SLOW_CONSUMER: .*since/);
    const sent = sink.frames.length;
    await emit(2);
    expect(sink.frames).toHaveLength(sent);
  });

  it('refuses a since beyond the newest event: the store is not the one the reader knew', async () => {
    await emit(2);
    const sink = new RecordingSink();
    const session = new EventStreamSession(store, sink, logger, limits);
    await session.start({ types: [...EVENT_TYPES], since: 99, project: undefined });
    expect(sink.frames).toEqual([
      {
        type: 'error',
        error: expect.objectContaining({ code: 'VALIDATION_FAILED' }) as unknown,
      },
    ]);
    expect(sink.closed?.code).toBe(4400);
  });
});

describe('EventStreamSession, live events', () => {
  const vmSample = (vmId: string) => ({
    vmId,
    at: new Date().toISOString(),
    memoryBytes: 1024,
    cpuPercent: 12.5,
  });
  const live = (sink: RecordingSink) =>
    sink.frames.filter((frame) => frame.type === 'live') as {
      event: { type: string; subject: { id: string }; project: string | null };
      dropped: number;
    }[];

  it('sends live events of the selected types and project after the replay, without a seq', async () => {
    await emit(2);
    const bus = new LiveEvents(systemClock);
    const sink = new RecordingSink();
    const session = new EventStreamSession(store, sink, logger, limits, bus);
    await session.start({
      types: ['operation.created'],
      live: ['metrics.sample'],
      since: 0,
      project: 'default',
    });
    expect(sink.frames[0]).toMatchObject({ type: 'subscribed', live: ['metrics.sample'] });
    bus.publish('metrics.sample', { kind: 'vm', id: 'v1', name: 'web' }, vmSample('v1'), {
      project: 'default',
    });
    bus.publish('metrics.sample', { kind: 'vm', id: 'v2', name: 'other' }, vmSample('v2'), {
      project: 'other',
    });
    bus.publish('metrics.sample', { kind: 'host', id: 'h1', name: 'h1' }, vmSample('h1'));
    await emit(1);
    await until(() => sink.events.length === 3);
    const frames = live(sink);
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({
      dropped: 0,
      event: { type: 'metrics.sample', subject: { id: 'v1' }, project: 'default' },
    });
    expect(frames[0]?.event).not.toHaveProperty('seq');
    // Stored and live frames share the stream; the replay came first.
    expect(sink.frames.findIndex((frame) => frame.type === 'live')).toBeGreaterThan(2);
    session.close();
    bus.publish('metrics.sample', { kind: 'vm', id: 'v1', name: 'web' }, vmSample('v1'), {
      project: 'default',
    });
    expect(live(sink)).toHaveLength(1);
    expect(bus.listening).toBe(false);
  });

  it('a subscription to live types only replays nothing and is not refused', async () => {
    await emit(3);
    const bus = new LiveEvents(systemClock);
    const sink = new RecordingSink();
    const session = new EventStreamSession(store, sink, logger, limits, bus);
    await session.start({ types: [], live: ['metrics.sample'], since: 0, project: undefined });
    bus.publish('metrics.sample', { kind: 'host', id: 'h1', name: 'h1' }, vmSample('h1'));
    bus.publish(
      'migration.progress',
      { kind: 'vm', id: 'v1', name: 'web' },
      {
        operation: 'op1',
        vm: 'v1',
        from: 'h1',
        to: 'h2',
        strategy: 'precopy',
        phase: 'transferring',
        transferredBytes: 1,
        remainingBytes: 2,
        totalBytes: 3,
        dirtyRateBytes: 0,
        iteration: 1,
        expectedDowntimeMs: null,
      },
    );
    expect(sink.events).toHaveLength(0);
    expect(live(sink).map((frame) => frame.event.type)).toEqual(['metrics.sample']);
    session.close();
  });

  it('drops live events for a reader that is behind, counts them, and never disconnects it for them', async () => {
    const bus = new LiveEvents(systemClock);
    const sink = new RecordingSink();
    const session = new EventStreamSession(
      store,
      sink,
      logger,
      { ...limits, maxBufferedBytes: 10_000, maxLiveBufferedBytes: 1000 },
      bus,
    );
    await session.start({
      types: [...EVENT_TYPES],
      live: ['metrics.sample'],
      since: undefined,
      project: undefined,
    });
    const publish = () =>
      bus.publish('metrics.sample', { kind: 'host', id: 'h1', name: 'h1' }, vmSample('h1'));
    publish();
    sink.bufferedAmount = 5000;
    for (let i = 0; i < 1000; i += 1) publish();
    expect(live(sink)).toHaveLength(1);
    expect(session.droppedLive).toBe(1000);
    expect(sink.closed).toBeUndefined();
    // Stored events still get through while live ones are dropped.
    await emit(1);
    await until(() => sink.events.length === 1);
    sink.bufferedAmount = 0;
    publish();
    expect(live(sink).map((frame) => frame.dropped)).toEqual([0, 1000]);
    // A stored backlog past maxBufferedBytes still ends the stream, as before.
    sink.bufferedAmount = 20_000;
    await emit(1);
    await until(() => sink.closed !== undefined);
    expect(sink.closed?.code).toBe(4429);
  });
});

describe('closeReason', () => {
  it('keeps a close reason within 123 bytes without splitting a character', () => {
    expect(closeReason('short')).toBe('short');
    const long = closeReason('é'.repeat(100));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(123);
    expect(long).not.toContain('\uFFFD');
  });
});
