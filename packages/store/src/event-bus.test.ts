import type { Event } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import { randomId } from './defaults.js';
import { EventBus } from './event-bus.js';

const event = (seq: number): Event => ({
  seq,
  type: 'vm.updated',
  time: '2030-01-01T00:00:00.000Z',
  project: 'default',
  subject: { kind: 'vm', id: 'a' },
  data: {},
});

describe('EventBus', () => {
  it('delivers in ticket order even when later transactions settle first', () => {
    const errors: unknown[] = [];
    const bus = new EventBus((error) => errors.push(error));
    const heard: number[] = [];
    bus.subscribe((events) => heard.push(...events.map((e) => e.seq)));
    bus.subscribe(() => {
      throw new Error('a broken listener');
    });

    const [a, b, c] = [bus.reserve(), bus.reserve(), bus.reserve()];
    bus.settle(c, [event(4)]);
    bus.settle(b, []); // rolled back
    expect(heard).toEqual([]);
    bus.settle(a, [event(1), event(2)]);
    expect(heard).toEqual([1, 2, 4]);
    expect(errors).toHaveLength(2);
  });

  it('stops delivering to a listener once unsubscribed', () => {
    const bus = new EventBus(() => undefined);
    const heard: number[] = [];
    const unsubscribe = bus.subscribe((events) => heard.push(...events.map((e) => e.seq)));
    bus.settle(bus.reserve(), [event(1)]);
    unsubscribe();
    bus.settle(bus.reserve(), [event(2)]);
    expect(heard).toEqual([1]);
  });
});

describe('randomId', () => {
  it('makes 16 lowercase base32 characters, different each time', () => {
    const ids = Array.from({ length: 1000 }, randomId);
    expect(ids.every((id) => /^[a-z2-7]{16}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
