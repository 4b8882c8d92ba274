import { EVENT_TYPES, LIVE_EVENT_TYPES } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import { selectEventTypes, splitPatterns } from './event-types.js';

describe('selectEventTypes', () => {
  it('selects by exact type, by prefix and by *, in the api order, without repeats', () => {
    const everything = { types: [...EVENT_TYPES], live: [...LIVE_EVENT_TYPES] };
    expect(selectEventTypes(undefined)).toEqual(everything);
    expect(selectEventTypes(['*'])).toEqual(everything);
    expect(selectEventTypes(['operation.updated', 'vm.*', 'vm.created'])).toEqual({
      types: ['vm.created', 'vm.updated', 'vm.deleted', 'operation.updated'],
      live: [],
    });
  });

  it('selects live types by name and prefix, apart from the stored ones', () => {
    expect(selectEventTypes(['metrics.*'])).toEqual({ types: [], live: ['metrics.sample'] });
    expect(selectEventTypes(['migration.progress', 'vm.deleted'])).toEqual({
      types: ['vm.deleted'],
      live: ['migration.progress'],
    });
  });

  it('refuses patterns that select nothing or are not patterns, with VALIDATION_FAILED', () => {
    for (const bad of [['vms.*'], ['vm'], ['vm.cre*'], ['VM.created'], ['x'.repeat(65)], ['']]) {
      expect(() => selectEventTypes(bad)).toThrow(
        expect.objectContaining({ code: 'VALIDATION_FAILED' }),
      );
    }
    expect(() => selectEventTypes(Array.from({ length: 40 }, () => '*'))).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });

  it('reads the comma-separated query form', () => {
    expect(splitPatterns('vm.*, host.* ,')).toEqual(['vm.*', 'host.*']);
    expect(splitPatterns(' , ')).toBeUndefined();
    expect(splitPatterns(undefined)).toBeUndefined();
  });
});
