import { EVENT_TYPES } from '@novacron/api';
import { describe, expect, it } from 'vitest';
import { expandEventTypes, splitPatterns } from './event-types.js';

describe('expandEventTypes', () => {
  it('selects by exact type, by prefix and by *, in the api order, without repeats', () => {
    expect(expandEventTypes(undefined)).toEqual([...EVENT_TYPES]);
    expect(expandEventTypes(['*'])).toEqual([...EVENT_TYPES]);
    expect(expandEventTypes(['operation.updated', 'vm.*', 'vm.created'])).toEqual([
      'vm.created',
      'vm.updated',
      'vm.deleted',
      'operation.updated',
    ]);
  });

  it('refuses patterns that select nothing or are not patterns, with VALIDATION_FAILED', () => {
    for (const bad of [['vms.*'], ['vm'], ['vm.cre*'], ['VM.created'], ['x'.repeat(65)], ['']]) {
      expect(() => expandEventTypes(bad)).toThrow(
        expect.objectContaining({ code: 'VALIDATION_FAILED' }),
      );
    }
    expect(() => expandEventTypes(Array.from({ length: 40 }, () => '*'))).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });

  it('reads the comma-separated query form', () => {
    expect(splitPatterns('vm.*, host.* ,')).toEqual(['vm.*', 'host.*']);
    expect(splitPatterns(' , ')).toBeUndefined();
    expect(splitPatterns(undefined)).toBeUndefined();
  });
});
